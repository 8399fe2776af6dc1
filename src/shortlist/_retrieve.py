"""What both framework retrievers do with an Index or a Pipeline, written once.

The retrievers differ only in what they call the result count (LangChain ``k``,
LlamaIndex ``similarity_top_k``); errors name it as the caller spelled it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

from shortlist._validate import positive_int
from shortlist.documents import Hit
from shortlist.errors import InvalidInputError
from shortlist.funnel import Funnel, as_funnel
from shortlist.index import BaseIndex, Filter
from shortlist.pipeline import Pipeline, PipelineResult, SearchOptions, search_plan
from shortlist.plan import Blocking, Plan

Source = BaseIndex | Pipeline
FunnelArg = Funnel | str | os.PathLike[str] | Mapping[str, Any] | None


def check_source(
    index: BaseIndex | None, pipeline: Pipeline | None, funnel: FunnelArg = None
) -> Source:
    """The one source a retriever searches: exactly one of an index and a pipeline; an
    index with ``funnel`` (a :class:`~shortlist.Funnel` or a config file) runs that funnel
    (a :meth:`Pipeline.from_config`)."""
    if funnel is not None:
        if pipeline is not None or not isinstance(index, BaseIndex):
            raise InvalidInputError(
                "funnel= runs a funnel over index=: pass it with an index, not with a "
                "pipeline (a Pipeline already is a funnel)."
            )
        return Pipeline.from_config(index, as_funnel(funnel))
    if (index is None) == (pipeline is None):
        raise InvalidInputError(
            "Pass exactly one of index= (retrieval only) or pipeline= (retrieve + rerank)."
        )
    if index is not None and not isinstance(index, BaseIndex):
        raise InvalidInputError(
            f"index must be a shortlist Index or ShardedIndex, got {type(index).__name__}."
        )
    if pipeline is not None and not isinstance(pipeline, Pipeline):
        raise InvalidInputError(
            f"pipeline must be a shortlist Pipeline, got {type(pipeline).__name__}."
        )
    return index if index is not None else pipeline  # type: ignore[return-value]


def check_k(name: str, k: object, source: Source | None, *, allow_none: bool = False) -> int | None:
    """Validate a result count; over a pipeline it may not exceed the pipeline's ``fetch_k``.

    Asking a pipeline for more results than it fetches would silently return fewer, so it
    is an error that says which knob to turn.
    """
    value = positive_int(name, k, allow_none=allow_none)
    if value is not None and isinstance(source, Pipeline) and value > source.fetch_k:
        raise InvalidInputError(
            f"{name}={value} exceeds the pipeline's fetch_k={source.fetch_k}: it can only "
            f"return candidates that stage 1 fetched. Build the Pipeline with "
            f"fetch_k>={value}, or ask for fewer."
        )
    return value


def stage1(
    source: Source, mode: str | None, alpha: float | None, sparse_k: int | None
) -> dict[str, Any]:
    """Stage-1 options: the caller's, else the pipeline's or the index's own -- which
    default to the funnel's (hybrid, alpha 0.7, where the index has BM25)."""
    options: dict[str, Any] = {"mode": mode, "alpha": alpha}
    if isinstance(source, BaseIndex):
        options["sparse_k"] = sparse_k
    elif sparse_k is not None:
        raise InvalidInputError(
            "sparse_k applies to a retriever over an index; a pipeline fetches fetch_k."
        )
    return options


def retrieve_plan(
    source: Source,
    query: str,
    k: int,
    *,
    name: str,
    filter: Filter | None = None,
    mode: str | None = None,
    alpha: float | None = None,
    sparse_k: int | None = None,
) -> Plan[list[Hit]]:
    """``k`` hits: an index's top ``k``, or a pipeline's reranked top ``k`` -- a plan the
    retrievers' sync and async methods run (:mod:`shortlist.plan`). Arguments are checked
    now, before the plan runs."""
    check_k(name, k, source)
    options = stage1(source, mode, alpha, sparse_k)
    if isinstance(source, Pipeline):
        call = SearchOptions(top_n=k, filter=filter, mode=options["mode"], alpha=options["alpha"])
        return _hits(search_plan(source, query, call))
    return _one(Blocking(functools.partial(source.search, query, k, filter=filter, **options)))


def _hits(pipeline: Plan[PipelineResult]) -> Plan[list[Hit]]:
    return (yield from pipeline).hits


def _one(step: Blocking[list[Hit]]) -> Plan[list[Hit]]:
    hits: list[Hit] = yield step
    return hits
