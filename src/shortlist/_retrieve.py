"""What both framework retrievers do with an Index or a Pipeline, written once."""

from __future__ import annotations

from shortlist.documents import Hit
from shortlist.index import Filter, Index
from shortlist.pipeline import Pipeline


def retrieve(
    source: Index | Pipeline, query: str, k: int, *, filter: Filter | None = None
) -> list[Hit]:
    """``k`` hits: an index's top ``k``, or a pipeline's reranked top ``k``."""
    if isinstance(source, Pipeline):
        return source.search(query, top_n=k, filter=filter)
    return source.search(query, k, filter=filter)


async def aretrieve(
    source: Index | Pipeline, query: str, k: int, *, filter: Filter | None = None
) -> list[Hit]:
    """Async :func:`retrieve`."""
    if isinstance(source, Pipeline):
        return await source.asearch(query, top_n=k, filter=filter)
    return await source.asearch(query, k, filter=filter)
