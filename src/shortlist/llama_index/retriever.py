"""``ShortlistRetriever``: a shortlist Index or Pipeline as a LlamaIndex retriever.

Pass an :class:`~shortlist.index.Index` for plain bi-encoder retrieval, or a
:class:`~shortlist.pipeline.Pipeline` for retrieve-and-rerank in one retriever. Unlike
LlamaIndex's default ``_aretrieve`` (which runs the sync path inside the coroutine, as
its ``FaissVectorStore`` does), ``aretrieve`` awaits the core's async search, which runs
the encoder and FAISS in shortlist's worker pool: the event loop keeps serving.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import IndexNode, NodeWithScore, QueryBundle

from shortlist import plan
from shortlist._retrieve import FunnelArg, Source, check_k, check_source, retrieve_plan, stage1
from shortlist._validate import positive_int
from shortlist.documents import Hit
from shortlist.errors import InvalidInputError
from shortlist.index import BaseIndex, Filter
from shortlist.index.hybrid import check_alpha
from shortlist.llama_index._convert import hit_to_node
from shortlist.llama_index.filters import LlamaFilter, to_shortlist_filter
from shortlist.pipeline import Pipeline
from shortlist.plan import Plan

_MODES = {"default": "dense", "hybrid": "hybrid", "sparse": "bm25", "text_search": "bm25"}
"""LlamaIndex's ``VectorStoreQueryMode`` values that shortlist serves, and what they mean."""

DEFAULT_SIMILARITY_TOP_K = 10
"""Nodes returned from an index when ``similarity_top_k`` is not set."""


class ShortlistRetriever(BaseRetriever):
    """Retrieve from a shortlist ``Index`` (stage 1) or ``Pipeline`` (stage 1 + rerank).

    Each result is a new ``NodeWithScore`` over a ``TextNode`` whose ``id_`` is the
    shortlist document id and whose metadata is the document's metadata plus
    ``retrieval_score``, ``retrieval_rank`` and, when a pipeline reranked,
    ``relevance_score`` (these keys are excluded from the LLM and embedding text).
    ``NodeWithScore.score`` is the score the result was ranked by: cosine similarity for
    an index, the pipeline's final (rerank or fused) score for a pipeline.

    Args:
        index: the index to search. Exactly one of ``index`` and ``pipeline``.
        pipeline: a retrieve-and-rerank pipeline; its output (not its candidates) is
            returned.
        similarity_top_k: nodes to return. ``None``: 10 for an index, the pipeline's
            ``top_n`` for a pipeline, whose ``fetch_k`` it may not exceed (an
            :class:`~shortlist.errors.InvalidInputError` says so, instead of silently
            returning fewer nodes).
        filters: LlamaIndex ``MetadataFilters`` (EQ, NE, IN, NIN, GT, GTE, LT, LTE;
            AND/OR/NOT; nested) or a shortlist filter dict/callable, applied before
            ranking (pre-filtering: no recall lost).
        vector_store_query_mode: LlamaIndex's names for stage 1: ``"hybrid"`` (BM25 +
            dense), ``"default"`` (dense), ``"sparse"`` or ``"text_search"`` (BM25), or a
            ``VectorStoreQueryMode``. ``None``: the pipeline's mode, or for an index the
            funnel's default (hybrid where the index has BM25).
        alpha: hybrid fusion weight, LlamaIndex's convention: 1 = dense only, 0 = BM25
            only; ``None``: the pipeline's, or over an index the funnel's (0.7,
            :mod:`shortlist.defaults`).
        sparse_top_k: BM25 results that enter the hybrid fusion (index only; default
            ``similarity_top_k``).
        funnel: with ``index``, run this funnel over it (a :class:`~shortlist.Funnel`, or
            the path of a config such as ``shortlist eval --calibrate`` writes).
        callback_manager, object_map, objects, verbose: passed to ``BaseRetriever``.
    """

    def __init__(
        self,
        *,
        index: BaseIndex | None = None,
        pipeline: Pipeline | None = None,
        similarity_top_k: int | None = None,
        filters: LlamaFilter | None = None,
        vector_store_query_mode: str | None = None,
        alpha: float | None = None,
        sparse_top_k: int | None = None,
        funnel: FunnelArg = None,
        callback_manager: CallbackManager | None = None,
        object_map: dict[str, Any] | None = None,
        objects: list[IndexNode] | None = None,
        verbose: bool = False,
    ) -> None:
        self._source: Source = check_source(index, pipeline, funnel)
        self.similarity_top_k = similarity_top_k
        self.filters = filters
        self.vector_store_query_mode = vector_store_query_mode
        self.alpha = check_alpha(alpha)
        self.sparse_top_k = positive_int("sparse_top_k", sparse_top_k, allow_none=True)
        stage1(self._source, self._mode, self.alpha, self.sparse_top_k)  # validates now
        super().__init__(
            callback_manager=callback_manager,
            object_map=object_map,
            objects=objects,
            verbose=verbose,
        )

    @property
    def index(self) -> BaseIndex | None:
        """The index searched directly (``None`` when built from a pipeline)."""
        return self._source if isinstance(self._source, BaseIndex) else None

    @property
    def pipeline(self) -> Pipeline | None:
        """The pipeline run (``None`` when built from an index)."""
        return self._source if isinstance(self._source, Pipeline) else None

    @property
    def similarity_top_k(self) -> int:
        """Nodes returned per query (resolved: see the class docs for the default)."""
        if self._top_k is not None:
            return self._top_k
        if isinstance(self._source, Pipeline):
            return self._source.top_n
        return DEFAULT_SIMILARITY_TOP_K

    @similarity_top_k.setter
    def similarity_top_k(self, value: int | None) -> None:
        self._top_k = check_k("similarity_top_k", value, self._source, allow_none=True)

    @property
    def filters(self) -> LlamaFilter | None:
        """The filters as given (LlamaIndex ``MetadataFilters`` or a shortlist filter)."""
        return self._filters

    @filters.setter
    def filters(self, value: LlamaFilter | None) -> None:
        self._core_filter: Filter | None = to_shortlist_filter(value)  # validates now
        self._filters = value

    @property
    def vector_store_query_mode(self) -> str | None:
        """The mode as given (LlamaIndex's name), ``None`` for the default."""
        return self._query_mode

    @vector_store_query_mode.setter
    def vector_store_query_mode(self, value: object) -> None:
        name = getattr(value, "value", value)  # a VectorStoreQueryMode, or its string
        if name is not None and name not in _MODES:
            raise InvalidInputError(
                f"vector_store_query_mode={name!r} is not supported; use one of "
                f"{', '.join(sorted(_MODES))} (or None for the default)."
            )
        self._query_mode: str | None = name
        self._mode = None if name is None else _MODES[name]

    def _plan(self, query_bundle: QueryBundle) -> Plan[list[Hit]]:
        """The search both methods run."""
        return retrieve_plan(
            self._source,
            query_bundle.query_str,
            self.similarity_top_k,
            name="similarity_top_k",
            filter=self._core_filter,
            mode=self._mode,
            alpha=self.alpha,
            sparse_k=self.sparse_top_k,
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [hit_to_node(h) for h in plan.run(self._plan(query_bundle))]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """Native async: the core's ``asearch`` (never the sync path on the event loop)."""
        return [hit_to_node(h) for h in await plan.arun(self._plan(query_bundle))]

    def __repr__(self) -> str:
        return (
            f"ShortlistRetriever({self._source!r}, similarity_top_k={self.similarity_top_k}, "
            f"filters={self._filters!r})"
        )
