"""Fine-tune the reranker on the user's own judged queries, judged on held-out ones.

``shortlist tune`` / :func:`tune`: split by query, mine hard negatives from the index,
train with sentence-transformers' ``CrossEncoderTrainer``, compare base and tuned on the
test queries, export int8 ONNX, write a model card and the verdict. Needs the ``[train]``
extra (``datasets``, ``accelerate``).
"""

from __future__ import annotations

from shortlist.tuning.card import TuneResult
from shortlist.tuning.data import Judged, TrainingData, load_training_data
from shortlist.tuning.export import export_onnx
from shortlist.tuning.negatives import Window
from shortlist.tuning.split import Split, split_queries
from shortlist.tuning.train import TrainSettings
from shortlist.tuning.tune import tune

__all__ = [
    "Judged",
    "Split",
    "TrainSettings",
    "TrainingData",
    "TuneResult",
    "Window",
    "export_onnx",
    "load_training_data",
    "split_queries",
    "tune",
]
