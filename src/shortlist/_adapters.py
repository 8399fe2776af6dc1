"""Framework-free glue the two rerank adapters share (LangChain compressor, LlamaIndex
postprocessor), so neither copies the other.

Nothing here imports the index or a framework: an adapter that only reranks loads
neither FAISS nor the encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shortlist.documents import RETRIEVAL_RANK_KEY, RETRIEVAL_SCORE_KEY, Document, Hit


def candidate(
    position: int,
    text: str,
    *,
    id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    retrieval_score: float | None = None,
) -> Hit:
    """Wrap a framework's document as a stage-1 Hit, for :meth:`Reranker.rerank_hits`.

    A retrieval score or rank that an upstream shortlist retriever stored in metadata is
    picked up, so the reranked output keeps reporting it.
    """
    meta = dict(metadata or {})
    if retrieval_score is None and _is_number(meta.get(RETRIEVAL_SCORE_KEY)):
        retrieval_score = float(meta[RETRIEVAL_SCORE_KEY])
    rank = meta.get(RETRIEVAL_RANK_KEY)
    return Hit(
        document=Document(id=id or f"#{position}", text=text, metadata=meta),
        score=retrieval_score if retrieval_score is not None else 0.0,
        rank=position + 1,
        retrieval_score=retrieval_score,
        retrieval_rank=rank if isinstance(rank, int) and not isinstance(rank, bool) else None,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
