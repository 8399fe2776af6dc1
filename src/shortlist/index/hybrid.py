"""Stage-1 modes, and fusing the dense and BM25 ranked lists into one hybrid ranking.

Two fusions, as the frameworks name them:

* reciprocal rank fusion, ``1/(rrf_k + rank_dense) + 1/(rrf_k + rank_bm25)`` (a document
  missing from one list gets nothing from it): scale-free, the usual default;
* a convex mix, ``alpha * minmax(dense) + (1 - alpha) * minmax(bm25)`` (LlamaIndex's
  ``alpha``: 1 = dense only, 0 = lexical only), min-max normalised over each list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from shortlist.errors import InvalidInputError

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[str, ...] = get_args(Mode)


def check_mode(mode: str) -> Mode:
    """Validate a mode name early, with the valid ones in the message."""
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}.")
    return mode  # type: ignore[return-value]


def check_alpha(alpha: float | None) -> float | None:
    """``None`` (rank fusion) or a weight in 0..1."""
    if alpha is not None and (
        isinstance(alpha, bool)
        or not isinstance(alpha, int | float)
        or not math.isfinite(alpha)
        or not 0 <= alpha <= 1
    ):
        raise InvalidInputError(f"alpha must be a number within 0..1 (or None), got {alpha!r}.")
    return None if alpha is None else float(alpha)


@dataclass(frozen=True)
class Fused:
    """The hybrid ranking: keys best first, the fused score and each side's raw score."""

    keys: np.ndarray
    scores: np.ndarray
    dense: np.ndarray  # NaN where the document was not in the dense list
    bm25: np.ndarray  # NaN where it was not in the BM25 list


def fuse(
    dense: tuple[np.ndarray, np.ndarray],
    bm25: tuple[np.ndarray, np.ndarray],
    k: int,
    *,
    alpha: float | None,
    rrf_k: float,
) -> Fused:
    """Fuse two (keys, scores) lists, each best first, and keep the best ``k``.

    Ties are broken by the dense rank, then the BM25 rank, so results are deterministic.
    """
    keys = np.unique(np.concatenate([dense[0], bm25[0]]))
    n = len(keys)
    raw = {}
    ranks = {}
    for name, (side_keys, side_scores) in (("dense", dense), ("bm25", bm25)):
        pos = np.searchsorted(keys, side_keys)
        raw[name] = np.full(n, np.nan)
        raw[name][pos] = side_scores
        ranks[name] = np.full(n, np.inf)
        ranks[name][pos] = np.arange(1, len(side_keys) + 1)
    if alpha is None:
        score = sum(np.where(np.isfinite(r), 1.0 / (rrf_k + r), 0.0) for r in ranks.values())
    else:
        score = alpha * _minmax(raw["dense"]) + (1 - alpha) * _minmax(raw["bm25"])
    order = np.lexsort((ranks["bm25"], ranks["dense"], -np.asarray(score)))[:k]
    return Fused(keys[order], np.asarray(score)[order], raw["dense"][order], raw["bm25"][order])


def _minmax(values: np.ndarray) -> np.ndarray:
    """Scale present values to 0..1 (all equal: 1); absent (NaN) ones count as 0."""
    present = np.isfinite(values)
    out = np.zeros(len(values))
    if present.any():
        lo, hi = values[present].min(), values[present].max()
        out[present] = 1.0 if hi == lo else (values[present] - lo) / (hi - lo)
    return out
