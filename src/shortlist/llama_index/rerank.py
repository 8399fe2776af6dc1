"""``ShortlistRerank``: any shortlist Reranker as a LlamaIndex node postprocessor.

Thin on purpose: the scoring, sorting, threshold, fusion and ``top_n`` cut are the
core's :meth:`Reranker.rerank_hits <shortlist.rerank.base.Reranker.rerank_hits>` (the
path the pipeline and the LangChain compressor take), and the reranker scores node text only
(``MetadataMode.NONE``), never the ``"key: value"`` metadata header LlamaIndex's own
rerankers feed their models. This module only converts nodes and emits LlamaIndex's
events, and does so without the peers' bugs: input nodes are never mutated,
``ReRankStartEvent`` fires after validation, and every start has an end, the empty
input included. It does not import the index (no FAISS, no encoder), and it is built
and serialised like the LangChain compressor: the same typed errors for the same
mistakes, and the reranker stored as its portable spec.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import llama_index.core.instrumentation as instrument
from llama_index.core.bridge.pydantic import ConfigDict, Field, field_serializer
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from shortlist import plan
from shortlist._adapters import CheckedArguments, rerank_plan_for
from shortlist.documents import Hit
from shortlist.errors import InvalidInputError
from shortlist.funnel import AUTO, Funnel
from shortlist.llama_index._convert import node_to_candidate, reranked_node
from shortlist.plan import Plan
from shortlist.rerank.base import Reranker

dispatcher = instrument.get_dispatcher(__name__)  # type: ignore[attr-defined]

DEFAULT_TOP_N = 2
"""LlamaIndex's convention (``SentenceTransformerRerank``, ``CohereRerank``), kept so that
swapping one of them for ``ShortlistRerank`` does not change how many nodes reach the LLM."""


class ShortlistRerank(CheckedArguments, BaseNodePostprocessor):
    """Rerank retrieved nodes with a shortlist reranker (local cross-encoder, ONNX or Cohere).

    Returns new ``NodeWithScore`` objects over copies of the input nodes, best first;
    ``score`` is the reranker's relevance (or the fused score with ``fusion``), and the
    copies' metadata gains ``relevance_score`` while keeping ``retrieval_score`` (the
    input node's score) and ``retrieval_rank`` -- all hidden from the LLM/embed text.

    Swapping backends is one argument: ``reranker="onnx:/path/to/model"`` or
    ``reranker="cohere:rerank-v3.5"``; scores stay on the same 0..1 scale.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    reranker: Reranker = Field(
        description="A shortlist Reranker, or a spec string for shortlist.rerank.load_reranker."
    )
    top_n: int | None = Field(
        default=DEFAULT_TOP_N, description="Nodes to keep; None keeps all of them."
    )
    score_threshold: float | None = Field(
        default=None, description="Drop nodes whose relevance score is below this."
    )
    fusion: str | None = Field(
        default=AUTO,
        description="Fuse retrieval and rerank scores: 'auto' (default: only nodes a shortlist "
        "retriever scored, only for a local cross-encoder; else the reranker's order), None "
        "(the reranker's order), 'rrf', 'rrf:k=60', 'weighted:w=0.7'.",
    )
    rerank_budget_ms: float | None = Field(
        default=None,
        description="Stop reranking after this many ms; the rest keep their retrieval order.",
    )
    funnel: Funnel | None = Field(
        default=None,
        description="A shortlist Funnel (or a config file's path) whose reranker, top_n, fusion, "
        "score_threshold and rerank_budget_ms apply unless given here.",
    )

    @field_serializer("reranker")
    def _reranker_spec(self, reranker: Reranker) -> str:
        return reranker.spec

    @field_serializer("funnel")
    def _funnel_dict(self, funnel: Funnel | None) -> dict[str, Any] | None:
        return None if funnel is None else funnel.to_dict()

    @classmethod
    def class_name(cls) -> str:
        return "ShortlistRerank"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return plan.run(self._plan(nodes, query_bundle))

    @dispatcher.span  # the sync method gets its span from DispatcherSpanMixin
    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        """Native async: the reranker's async path (worker pool, or Cohere's async client)."""
        return await plan.arun(self._plan(nodes, query_bundle))

    def _plan(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> Plan[list[NodeWithScore]]:
        """Both methods: input checked before any event fires, then the rerank inside them."""
        query, candidates = _validate(nodes, query_bundle)
        metadatas = (n.node.metadata for n in nodes)
        with self._events(nodes, query_bundle) as out:
            ranked = yield from rerank_plan_for(self, query, candidates, metadatas)
            out.extend(reranked_node(nodes[i], hit) for i, hit in ranked)
        return out

    @contextmanager
    def _events(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> Iterator[list[NodeWithScore]]:
        """Start/end instrumentation events and the legacy RERANKING callback around a run.

        Yields the output list to fill; the end events carry it. On an exception the
        callback manager records it and the dispatcher span around the method is dropped
        with the error.
        """
        name = self.reranker.spec
        top_n = self.top_n if self.top_n is not None else len(nodes)
        dispatcher.event(
            ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=top_n, model_name=name)
        )
        out: list[NodeWithScore] = []
        payload: dict[str, Any] = {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: name,
            EventPayload.QUERY_STR: query_bundle.query_str if query_bundle else None,
            EventPayload.TOP_K: top_n,
        }
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            yield out
            event.on_end(payload={EventPayload.NODES: out})
        dispatcher.event(ReRankEndEvent(nodes=out))


def _validate(
    nodes: Sequence[NodeWithScore], query_bundle: QueryBundle | None
) -> tuple[str, list[Hit]]:
    """Everything that can be wrong with the input, checked before any event fires."""
    if query_bundle is None:
        raise InvalidInputError(
            "ShortlistRerank needs the query: call postprocess_nodes(nodes, query_str=...) "
            "or pass query_bundle=QueryBundle(...)."
        )
    query = query_bundle.query_str
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("ShortlistRerank needs a non-empty query string.")
    if isinstance(nodes, NodeWithScore) or not isinstance(nodes, Sequence):
        raise InvalidInputError("nodes must be a list of NodeWithScore.")
    for i, node in enumerate(nodes):
        if not isinstance(node, NodeWithScore):
            raise InvalidInputError(
                f"nodes[{i}] is a {type(node).__name__}; pass NodeWithScore objects."
            )
    return query, [node_to_candidate(i, n) for i, n in enumerate(nodes)]
