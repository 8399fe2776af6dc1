"""The one rerank path: relevance scores -> optional fusion -> threshold -> top_n cut.

Everything that turns scores into a ranking goes through here -- :meth:`Reranker.rerank`
(texts), :meth:`Reranker.rerank_hits` (hits), the :class:`~shortlist.pipeline.Pipeline`,
both framework adapters, and evaluation, which replays stored scores through
:func:`rank_hits` without a model -- so they cannot drift apart. The functions are pure:
arrays in, positions out; no model is called here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from shortlist._validate import finite_number, positive_int
from shortlist.documents import STAGE1, Hit
from shortlist.errors import InvalidInputError
from shortlist.rerank.fusion import Fusion, best_first


@dataclass(frozen=True, slots=True)
class RerankResult:
    """One chosen candidate: its position in the input and its final score.

    ``score`` is the score the result was ranked by: the reranker's relevance, or the
    fused score when ``fusion`` was given.
    """

    index: int
    score: float


@dataclass(frozen=True, slots=True)
class RankOptions:
    """Validated ``top_n`` / ``score_threshold`` / ``fusion``.

    Entry points build it before scoring, so a bad argument fails before a model (or a
    paid API) is called; :func:`select` builds it again (cheap) so it is safe on its own.
    """

    top_n: int | None = None
    score_threshold: float | None = None
    fusion: Fusion | None = None

    @classmethod
    def of(
        cls,
        top_n: int | None = None,
        score_threshold: float | None = None,
        fusion: Fusion | str | None = None,
    ) -> RankOptions:
        """Validate the three options as a caller passed them (``fusion`` may be a spec)."""
        return cls(
            positive_int("top_n", top_n, allow_none=True),
            finite_number("score_threshold", score_threshold, allow_none=True),
            Fusion.parse(fusion),
        )


def select(
    relevance: np.ndarray,
    retrieval: np.ndarray | None = None,
    *,
    top_n: int | None = None,
    score_threshold: float | None = None,
    fusion: Fusion | str | None = None,
) -> list[RerankResult]:
    """Rank candidates: positions and final scores, best first.

    Args:
        relevance: the reranker's score per candidate, in input order.
        retrieval: the stage-1 score per candidate (higher is better); ``None`` means the
            input order is the retrieval ranking. Used only by fusion.
        top_n: keep at most this many (the cut comes last); ``None`` keeps all.
        score_threshold: drop candidates whose *relevance* is below it (the reranker's
            own scale, whatever fusion does).
        fusion: combine the two rankings (:class:`~shortlist.rerank.fusion.Fusion` or a spec
            such as ``"rrf"``); it decides the order and the final score.
    """
    options = RankOptions.of(top_n, score_threshold, fusion)
    relevance = np.asarray(relevance, dtype=np.float64).reshape(-1)
    if retrieval is None:
        retrieval = -np.arange(len(relevance), dtype=np.float64)
    elif len(retrieval) != len(relevance):
        raise InvalidInputError(
            f"{len(retrieval)} retrieval scores for {len(relevance)} candidates; pass one each."
        )
    fusion = options.fusion
    final = relevance if fusion is None else fusion.fuse(retrieval, relevance)
    order = best_first(final)
    if options.score_threshold is not None:
        order = order[relevance[order] >= options.score_threshold]
    if options.top_n is not None:
        order = order[: options.top_n]
    return [RerankResult(index=int(i), score=float(final[i])) for i in order]


def retrieval_signal(hits: Sequence[Hit]) -> np.ndarray:
    """What fusion takes as the stage-1 ranking of ``hits`` (higher is better).

    Their retrieval scores when every hit has one; otherwise their retrieval ranks
    (negated), falling back to input order for a hit without a rank. Scores and ranks are
    never mixed in one array: they are not on the same scale.
    """
    scores = [h.retrieval_score for h in hits]
    if all(s is not None for s in scores):
        return np.asarray(scores, dtype=np.float64)
    ranks = [
        h.retrieval_rank if h.retrieval_rank is not None else i + 1 for i, h in enumerate(hits)
    ]
    return -np.asarray(ranks, dtype=np.float64)


def rank_hits(
    hits: Sequence[Hit],
    relevance: np.ndarray,
    *,
    top_n: int | None = None,
    score_threshold: float | None = None,
    fusion: Fusion | str | None = None,
    scored_by: str | None = None,
) -> list[tuple[int, Hit]]:
    """:func:`select` over hits: (input position, reranked hit) pairs, best first.

    Each output hit keeps its document and stage-1 scores, and gains ``relevance_score``,
    ``fused_score`` (with fusion), its new ``rank`` and ``scored_by``; ``score`` is the
    final score. ``retrieval_rank`` defaults to the input position for hits that had none.

    ``scored_by=STAGE1`` means no reranker scored them: the hits keep their input order
    and score, with no relevance score, no threshold and no fusion (there is nothing to
    apply them to); only the ``top_n`` cut applies.
    """
    if scored_by == STAGE1:
        keep = len(hits) if top_n is None else top_n
        return [
            (i, stage1_hit(h, i, rank))
            for rank, (i, h) in enumerate(list(enumerate(hits))[:keep], 1)
        ]
    relevance = np.asarray(relevance, dtype=np.float64).reshape(-1)
    if len(relevance) != len(hits):
        raise InvalidInputError(
            f"{len(relevance)} relevance scores for {len(hits)} hits; pass one each."
        )
    fusion = Fusion.parse(fusion)
    chosen = select(
        relevance,
        retrieval_signal(hits),
        top_n=top_n,
        score_threshold=score_threshold,
        fusion=fusion,
    )
    fused = fusion is not None
    return [
        (
            r.index,
            replace(
                hits[r.index],
                score=r.score,
                rank=rank,
                retrieval_rank=_retrieval_rank(hits[r.index], r.index),
                relevance_score=float(relevance[r.index]),
                fused_score=r.score if fused else None,
                scored_by=scored_by,
            ),
        )
        for rank, r in enumerate(chosen, 1)
    ]


def stage1_hit(hit: Hit, position: int, rank: int) -> Hit:
    """``hit`` kept in its stage-1 order at ``rank``: no reranker scored it (every stage-1
    score stays; there is no relevance or fused score)."""
    return replace(
        hit,
        rank=rank,
        retrieval_rank=_retrieval_rank(hit, position),
        relevance_score=None,
        fused_score=None,
        scored_by=STAGE1,
    )


def _retrieval_rank(hit: Hit, position: int) -> int:
    """The stage-1 rank a hit carries, or its input position (1-based) when it has none."""
    return hit.retrieval_rank if hit.retrieval_rank is not None else position + 1
