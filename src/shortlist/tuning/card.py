"""What ``tune`` decided (:class:`TuneResult`) and the model card written beside a tuned
reranker: what it is, what it was trained on, and whether it beat its base on queries it
never saw -- so the folder explains itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shortlist.evaluation.results import Report
    from shortlist.tuning.train import TrainSettings


@dataclass(frozen=True)
class TuneResult:
    """What ``tune`` measured and decided; also written to ``MODEL_DIR/tuning.json``."""

    model_dir: str
    use: str  # the model to rerank with: the tuned folder, or the base model
    tuned_wins: bool
    verdict: str
    base: str
    n: int
    held_out: dict[str, float]  # nDCG@10 on the test queries: stage1, base, tuned
    split: dict[str, int]
    train: dict[str, Any]
    onnx_dir: str | None = None
    onnx_spearman: float | None = None
    onnx_graph: str | None = None  # "int8", or "float32" when int8 did not rank alike
    report: Report | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("report")
        return out


def model_card(result: TuneResult, data: str, settings: TrainSettings, mode: str) -> str:
    """Markdown: base, data, split, loss, held-out metrics before/after, how to use it."""
    held = result.held_out
    lines = [
        "# Reranker tuned with shortlist",
        "",
        f"**Verdict:** {result.verdict}",
        "",
        f"- Base model: `{result.base}`",
        f"- Data: {data}",
        f"- Split by query (seed {settings.seed}): {result.split['train']} train, "
        f"{result.split['dev']} dev (early stopping), {result.split['test']} test (judging); "
        "the query ids are in `split.json`.",
        "- Loss: binary cross-entropy on (query, document) pairs labelled 1/0, hard "
        f"negatives mined from the index's own stage 1 ({mode}); pos_weight = negatives "
        "per positive.",
        f"- Training: {result.train['pairs']} pairs ({result.train['positives']} positive), "
        f"{result.train['seconds']} s, dev nDCG@10 {result.train['base_dev_ndcg']} before, "
        f"{result.train['dev_ndcg_per_epoch']} per epoch, epoch {result.train['best_epoch']} "
        "kept.",
        "- Settings: " + ", ".join(f"{k}={v}" for k, v in asdict(settings).items()),
        "",
        f"## Held-out test queries (N={result.n}, nDCG@10)",
        "",
        "| system | nDCG@10 |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {value:.4f} |" for name, value in held.items()]
    lines += [
        "",
        "The full table, in `shortlist eval`'s format, is in `held-out.md`; the verdict and "
        "every figure above are in `tuning.json`.",
        "",
        "## Use it",
        "",
        "```",
        f"shortlist search INDEX 'query' --reranker cross-encoder:{result.model_dir}",
    ]
    if result.onnx_dir is not None:
        lines.append(f"shortlist search INDEX 'query' --reranker onnx:{result.onnx_dir}")
    lines.append("```")
    if result.onnx_dir is not None:
        lines += [
            "",
            f"`onnx/` is the {result.onnx_graph} ONNX export (mean Spearman "
            f"{result.onnx_spearman} against the torch model's scores over held-out queries' "
            "candidates; int8 is kept only at 0.95 or more).",
        ]
    return "\n".join(lines) + "\n"
