"""``POST /v1/search``: the whole funnel over a served index, every stage's score shown.

Request: ``{"query", "index"?, "top_n"?, "fetch_k"?, "mode"?, "filters"?}`` (``index`` may
be left out when the server serves one; ``None`` fields take the served funnel's values).
Answer: ``{"id", "index", "hits": [...], "reranked", "timings_ms": {"retrieve", "rerank"}}``
where each hit is :meth:`Hit.to_dict <shortlist.documents.Hit.to_dict>`: id, text,
metadata, rank, score, and the stage scores that apply (``dense_score``, ``bm25_score``,
``retrieval_score``, ``retrieval_rank``, ``relevance_score``, ``fused_score``,
``scored_by``). The same keys the framework adapters put into metadata.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shortlist.index.hybrid import check_mode
from shortlist.pipeline import SearchOptions
from shortlist.serve.config import Limits
from shortlist.serve.problems import invalid, too_large
from shortlist.serve.wire import optional_count, text_field

if TYPE_CHECKING:
    from shortlist.pipeline import PipelineResult


@dataclass(frozen=True)
class SearchRequest:
    """A checked search request."""

    query: str
    index: str | None
    top_n: int | None
    fetch_k: int | None
    mode: str | None
    filters: dict[str, Any] | None

    def options(self) -> SearchOptions:
        """Keyword arguments for :meth:`Pipeline.arun <shortlist.Pipeline.arun>`."""
        return SearchOptions(
            top_n=self.top_n, fetch_k=self.fetch_k, mode=self.mode, filter=self.filters
        )


def parse_search(body: Mapping[str, Any], limits: Limits) -> SearchRequest:
    """``body`` as a :class:`SearchRequest`, or a 413/422 problem naming the field."""
    query = text_field("query", body.get("query"), limits)
    index = body.get("index")
    if index is not None and not isinstance(index, str):
        raise invalid(f"index must be the name of a served index, got {index!r}.")
    top_n = optional_count("top_n", body.get("top_n"))
    fetch_k = optional_count("fetch_k", body.get("fetch_k"))
    for name, count in (("top_n", top_n), ("fetch_k", fetch_k)):
        if count is not None and count > limits.max_documents:
            raise too_large(
                f"{name}={count} is over this server's limit of {limits.max_documents}."
            )
    mode = body.get("mode")
    if mode is not None:
        check_mode(mode)  # InvalidInputError: a 422 naming the modes
    filters = body.get("filters", body.get("filter"))
    if filters is not None and not isinstance(filters, dict):
        raise invalid(f"filters must be an object such as {{'year': 1962}}, got {filters!r}.")
    return SearchRequest(query, index, top_n, fetch_k, mode, filters)


def search_response(index: str, result: PipelineResult) -> dict[str, Any]:
    """The JSON answer for one search."""
    return {
        "id": str(uuid.uuid4()),
        "index": index,
        "hits": [hit.to_dict() for hit in result.hits],
        "reranked": result.reranked,
        "timings_ms": {
            "retrieve": result.retrieve_seconds * 1000.0,
            "rerank": result.rerank_seconds * 1000.0,
        },
    }
