"""Stage-1 modes, and fusing the dense and BM25 ranked lists into one hybrid ranking.

Two fusions, as the frameworks name them:

* reciprocal rank fusion, ``1/(rrf_k + rank_dense) + 1/(rrf_k + rank_bm25)`` (a document
  missing from one list gets nothing from it): scale-free, the usual default;
* a convex mix, ``alpha * minmax(dense) + (1 - alpha) * minmax(bm25)`` (LlamaIndex's
  ``alpha``: 1 = dense only, 0 = lexical only), min-max normalised over each list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from shortlist import defaults
from shortlist._validate import finite_number
from shortlist.errors import InvalidInputError
from shortlist.index.filters import Filter
from shortlist.rerank.fusion import Fusion, minmax

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[str, ...] = get_args(Mode)

DEFAULT_HYBRID = Fusion.parse(defaults.HYBRID) or Fusion("weighted", weight=defaults.HYBRID_ALPHA)
"""The funnel's hybrid fusion (:data:`shortlist.defaults.HYBRID`)."""


def default_mode(has_bm25: bool) -> Mode:
    """The funnel's stage-1 mode: hybrid where the index has BM25, else dense."""
    return check_mode(defaults.STAGE1_MODE) if has_bm25 else "dense"


def hybrid_fusion(
    hybrid: Fusion | str | None = None,
    alpha: float | None = None,
    rrf_k: float | None = None,
    *,
    default: Fusion = DEFAULT_HYBRID,
) -> Fusion:
    """How hybrid stage 1 fuses, from whichever one of the three spellings was given.

    ``hybrid`` is a fusion spec (``"weighted:w=0.5"``, ``"rrf:k=60"``); ``alpha`` is
    LlamaIndex's dense weight (``weighted:w=alpha``); ``rrf_k`` asks for rank fusion with
    that k. ``None`` everywhere means ``default`` -- never "RRF" in one place and "the
    default" in another.
    """
    given = [
        n for n, v in (("hybrid", hybrid), ("alpha", alpha), ("rrf_k", rrf_k)) if v is not None
    ]
    if len(given) > 1:
        raise InvalidInputError(
            f"Pass one of hybrid=, alpha= or rrf_k=, not {' and '.join(given)}: "
            "hybrid='weighted:w=0.5' equals alpha=0.5, hybrid='rrf:k=60' equals rrf_k=60."
        )
    if hybrid is not None:
        fusion = Fusion.parse(hybrid)
        if fusion is None:
            raise InvalidInputError(
                f"hybrid must be 'weighted:w=...' or 'rrf:k=...', got {hybrid!r}; for one "
                "side alone use mode='dense' or mode='bm25'."
            )
        return fusion
    if alpha is not None:
        return Fusion("weighted", weight=check_alpha(alpha))  # type: ignore[arg-type]
    if rrf_k is not None:
        return Fusion("rrf", k=finite_number("rrf_k", rrf_k, positive=True))
    return default


def stage1_settings(stored: dict[str, Any]) -> tuple[Mode | None, Fusion | None]:
    """An index manifest's ``stage1`` entry as (its own mode, its own hybrid fusion);
    ``None`` where the index took the funnel's default, so it follows the default.

    Manifests before the funnel configuration stored ``alpha`` (``None`` meaning RRF) and
    the then-default mode ``"dense"``; those defaults read as today's funnel defaults, an
    explicit hybrid without alpha as the RRF it was.
    """
    mode = stored.get("mode")
    own_mode = None if mode is None else check_mode(mode)
    if "hybrid" in stored:
        fusion = stored["hybrid"]
        return own_mode, None if fusion is None else hybrid_fusion(fusion)
    alpha = stored.get("alpha")
    if alpha is not None:
        return own_mode, hybrid_fusion(alpha=alpha)
    if mode in (None, "dense"):
        return None, None
    return own_mode, hybrid_fusion(rrf_k=stored.get("rrf_k", 60.0))


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
        score = alpha * minmax(raw["dense"]) + (1 - alpha) * minmax(raw["bm25"])
    order = np.lexsort((ranks["bm25"], ranks["dense"], -np.asarray(score)))[:k]
    return Fused(keys[order], np.asarray(score)[order], raw["dense"][order], raw["bm25"][order])


Ranked = tuple[np.ndarray, np.ndarray]
"""One retriever's list for one query: (int64 keys, scores), best first."""


@dataclass(frozen=True)
class Wanted:
    """What stage 1 asks an index (or each shard) for: per query, the best ``k`` by
    vector when ``vectors`` are given, the best ``depth`` by BM25 when ``depth`` is, both
    restricted by ``filter``."""

    queries: Sequence[str]
    vectors: np.ndarray | None
    k: int
    depth: int | None
    filter: Filter | None

    @property
    def n(self) -> int:
        """How many queries (by text, or by vector when only vectors are given)."""
        return len(self.queries) if self.vectors is None else len(self.vectors)


@dataclass(frozen=True)
class Lists:
    """What stage 1 found for one query before fusion: the dense list, the BM25 list (each
    ``None`` when that side did not run) and the documents they name, by key.

    An index produces these and turns them into hits itself; a sharded index merges the
    shards' lists first (:func:`merge`), then does the very same (:func:`assemble`).
    """

    dense: Ranked | None
    bm25: Ranked | None
    docs: dict[int, Any]


def merge(parts: list[Ranked], k: int) -> Ranked:
    """The best ``k`` of several disjoint lists: score descending, ties by key (older
    first), which is also how each list is ordered."""
    keys = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    scores = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.float32)
    order = np.lexsort((keys, -scores))[:k]
    return keys[order].astype(np.int64), scores[order]


def assemble(lists: Lists, mode: str, k: int, *, fusion: Fusion = DEFAULT_HYBRID) -> list[Any]:
    """Hits for one query from its lists, as ``mode`` ranks them (``fusion`` for hybrid)."""
    from shortlist.index.docstore import make_hits

    lookup = lists.docs.get
    if mode == "dense" or lists.bm25 is None:
        keys, scores = lists.dense if lists.dense is not None else _EMPTY
        return make_hits(lookup, scores, keys, dense=scores)
    if mode == "bm25" or lists.dense is None:
        keys, scores = lists.bm25
        return make_hits(lookup, scores, keys, bm25=scores)
    fused = fuse(lists.dense, lists.bm25, k, alpha=fusion.mix_weight, rrf_k=fusion.k)
    return make_hits(lookup, fused.scores, fused.keys, dense=fused.dense, bm25=fused.bm25)


_EMPTY: Ranked = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
