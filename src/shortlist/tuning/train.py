"""Fine-tune a cross-encoder with sentence-transformers' ``CrossEncoderTrainer``.

Loss: binary cross-entropy on labelled (query, document) pairs -- the loss the MS MARCO
cross-encoders were trained with and what sentence-transformers recommends for pairs
labelled 1/0 with mined hard negatives. ``pos_weight`` = negatives per positive, so that
the many mined negatives do not teach the model to say "no" to everything. Early stopping
watches dev nDCG@10 over each dev query's real stage-1 candidates (not positives injected
into the list, which would flatter every model), and the best epoch is the one kept.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shortlist._optional import require

logger = logging.getLogger(__name__)

_FEATURE = "shortlist tune"


@dataclass(frozen=True)
class TrainSettings:
    """How to train; the defaults suit a few hundred judged queries on a CPU.

    One epoch at 192 tokens: on 2 CPU cores a step of 16 pairs at 256 tokens took ~11 s
    (MiniLM-L-12, forward + backward), so a Cranfield-sized run (~2,000 pairs) at two
    epochs and 256 tokens needs about an hour; with a GPU, raise ``epochs`` and
    ``max_length``.
    """

    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    max_length: int = 192
    patience: int = 1
    seed: int = 0
    device: str | None = None


@dataclass
class TrainResult:
    """What training did: dev nDCG@10 before and per epoch, the epoch kept, the time."""

    base_dev_ndcg: float
    dev_ndcg: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    pairs: int = 0
    positives: int = 0


def _warmup(version: str, ratio: float) -> dict[str, Any]:
    """Transformers 5 takes the warmup ratio as a float ``warmup_steps`` (and deprecates
    ``warmup_ratio``); 4 takes ``warmup_ratio``."""
    major = int(version.split(".")[0])
    return {"warmup_steps": ratio} if major >= 5 else {"warmup_ratio": ratio}


def _training_options(
    settings: TrainSettings, version: str, device: str, show_progress: bool
) -> dict[str, Any]:
    """The trainer's arguments: one evaluation and checkpoint per epoch, the best kept
    (dev nDCG@10), seeded, no logging integrations."""
    return {
        "num_train_epochs": settings.epochs,
        "per_device_train_batch_size": settings.batch_size,
        "learning_rate": settings.learning_rate,
        **_warmup(version, settings.warmup_ratio),
        "eval_strategy": "epoch",
        "save_strategy": "epoch",
        "save_total_limit": 2,
        "load_best_model_at_end": True,
        "metric_for_best_model": "eval_dev_ndcg@10",
        "greater_is_better": True,
        "seed": settings.seed,
        "data_seed": settings.seed,
        "use_cpu": device == "cpu",
        "report_to": "none",
        "disable_tqdm": not show_progress,
        "logging_strategy": "no",
        "dataloader_num_workers": 0,
    }


def train_cross_encoder(
    base: str,
    pairs: list[tuple[str, str, float]],
    dev_samples: list[dict[str, Any]],
    out_dir: Path,
    settings: TrainSettings,
    *,
    show_progress: bool = True,
) -> TrainResult:
    """Train ``base`` (a local folder) on ``pairs``; save the best epoch to ``out_dir``."""
    st = require("sentence_transformers", feature=_FEATURE, extra="train")
    require("datasets", feature=_FEATURE, extra="train")
    require("accelerate", feature=_FEATURE, extra="train")
    torch = require("torch", feature=_FEATURE, extra="train")
    import datasets
    import transformers
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    transformers.set_seed(settings.seed)
    device = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = st.CrossEncoder(base, num_labels=1, max_length=settings.max_length, device=device)
    evaluator = CrossEncoderRerankingEvaluator(
        dev_samples, at_k=10, always_rerank_positives=False, name="dev", batch_size=64,
        write_csv=False,
    )  # fmt: skip
    base_dev = float(evaluator(model)["dev_ndcg@10"])
    positives = sum(1 for p in pairs if p[2] > 0)
    negatives = len(pairs) - positives
    loss = BinaryCrossEntropyLoss(
        model, pos_weight=torch.tensor(max(negatives, 1) / max(positives, 1))
    )
    columns = {"query": [p[0] for p in pairs], "document": [p[1] for p in pairs]}
    labels = {"label": [float(p[2]) for p in pairs]}
    train = datasets.Dataset.from_dict(columns | labels).shuffle(seed=settings.seed)
    checkpoints = out_dir / ".checkpoints"
    options = _training_options(settings, transformers.__version__, device, show_progress)
    args = CrossEncoderTrainingArguments(output_dir=str(checkpoints), **options)
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=train,
        loss=loss,
        evaluator=evaluator,
        callbacks=[transformers.EarlyStoppingCallback(early_stopping_patience=settings.patience)],
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    metric = "eval_dev_ndcg@10"
    history = [float(e[metric]) for e in trainer.state.log_history if metric in e]
    best = max(range(len(history)), key=history.__getitem__) + 1 if history else 0
    model.save_pretrained(os.fspath(out_dir), safe_serialization=True)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return TrainResult(base_dev, history, best, seconds, len(pairs), positives)
