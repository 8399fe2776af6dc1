"""``ShortlistRetriever``: a shortlist Index or Pipeline as a LangChain retriever.

Pass an :class:`~shortlist.index.Index` for plain bi-encoder retrieval, or a
:class:`~shortlist.pipeline.Pipeline` to get retrieve-and-rerank as one Runnable. The
async path calls the core's async search (worker pool + the reranker's native async), so
``ainvoke`` never runs the sync code on the event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from shortlist import plan
from shortlist._adapters import CheckedArguments
from shortlist._retrieve import check_k, check_source, retrieve_plan
from shortlist._validate import check_keywords, known_names
from shortlist.documents import Hit
from shortlist.funnel import Funnel
from shortlist.index import BaseIndex, Filter
from shortlist.index.hybrid import check_alpha, check_mode
from shortlist.langchain._convert import hit_to_lc
from shortlist.pipeline import Pipeline
from shortlist.plan import Plan

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing's own from Python 3.11

DEFAULT_K = 4
"""LangChain's usual number of documents, used for an index when ``k`` is not set."""


class InvokeOptions(TypedDict, total=False):
    """What ``invoke``/``ainvoke`` may override for one call."""

    k: int | None
    filter: Filter | None
    mode: str | None
    alpha: float | None


class ShortlistRetriever(CheckedArguments, BaseRetriever):
    """Retrieve from a shortlist ``Index`` (stage 1) or ``Pipeline`` (stage 1 + rerank).

    Returned documents are new LangChain documents: ``id`` is the shortlist document id,
    ``page_content`` its text, and ``metadata`` its metadata plus ``retrieval_score``,
    ``retrieval_rank`` and, when a pipeline reranked, ``relevance_score``.

    Both ``k`` and ``filter`` can be overridden per call:
    ``retriever.invoke("q", k=10, filter={"year": {"$gte": 2020}})``. Over a pipeline,
    ``k`` may not exceed its ``fetch_k`` (an :class:`~shortlist.errors.InvalidInputError`
    says so, instead of silently returning fewer documents).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    index: BaseIndex | None = None
    """The index to search. Exactly one of ``index`` and ``pipeline`` must be given."""
    pipeline: Pipeline | None = None
    """A retrieve-and-rerank pipeline; its output (not its candidates) is returned."""
    k: int | None = None
    """Documents to return. ``None``: 4 for an index, the pipeline's ``top_n`` for a pipeline."""
    filter: Filter | None = None
    """Metadata filter (see :mod:`shortlist.index.filters`), applied before ranking."""
    mode: str | None = None
    """Stage 1: ``"hybrid"``, ``"dense"`` or ``"bm25"``. ``None``: the pipeline's, or for
    an index the funnel's default (hybrid where the index has BM25)."""
    alpha: float | None = None
    """Hybrid weight, 1 = dense only, 0 = BM25 only. ``None``: the pipeline's, or over an
    index the funnel's (0.7, :mod:`shortlist.defaults`)."""
    funnel: Funnel | None = None
    """With ``index``: run this funnel over it (a :class:`~shortlist.Funnel`, or the path of
    a config such as ``shortlist eval --calibrate`` writes); stored as its Funnel."""

    @classmethod
    def _check_arguments(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Typed errors for mistakes, as the LlamaIndex retriever raises them."""
        known_names(cls.__name__, data, cls.model_fields)
        source = check_source(data.get("index"), data.get("pipeline"), data.get("funnel"))
        if isinstance(source, Pipeline) and data.get("funnel") is not None:  # runs as it
            data = {**data, "index": None, "pipeline": source, "funnel": source.funnel}
        check_k("k", data.get("k"), source, allow_none=True)
        if data.get("mode") is not None:
            check_mode(data["mode"])
        check_alpha(data.get("alpha"))
        return data

    def _source(self) -> BaseIndex | Pipeline:
        return self.pipeline if self.pipeline is not None else self.index  # type: ignore[return-value]

    def _k(self, k: int | None) -> int:
        if k is not None:
            return k
        if self.k is not None:
            return self.k
        return self.pipeline.top_n if self.pipeline is not None else DEFAULT_K

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        **options: Unpack[InvokeOptions],
    ) -> list[LCDocument]:
        """``k``/``filter``/``mode``/``alpha`` given at invoke time replace the configured
        ones for that call."""
        return [hit_to_lc(h) for h in plan.run(self._plan(query, options))]

    def _plan(self, query: str, options: InvokeOptions) -> Plan[list[Hit]]:
        """The search both methods run; per-call values win over the configured ones."""
        check_keywords(type(self).__name__, options, InvokeOptions.__annotations__)
        o = options
        return retrieve_plan(
            self._source(),
            query,
            self._k(o.get("k")),
            name="k",
            filter=o["filter"] if o.get("filter") is not None else self.filter,
            mode=o["mode"] if o.get("mode") is not None else self.mode,
            alpha=o["alpha"] if o.get("alpha") is not None else self.alpha,
        )

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        **options: Unpack[InvokeOptions],
    ) -> list[LCDocument]:
        """Native async: the core's ``asearch`` (never the sync path on the event loop)."""
        return [hit_to_lc(h) for h in await plan.arun(self._plan(query, options))]
