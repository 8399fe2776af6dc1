"""``ShortlistRerank``: any shortlist reranker as a LangChain document compressor.

Reranking itself is :meth:`Reranker.rerank_hits <shortlist.rerank.base.Reranker.rerank_hits>`
(the path the pipeline and the LlamaIndex adapter take); this module only converts
documents, holds the pydantic fields, and reports a child run to LangChain callbacks
(tagged with the reranker's spec) so the rerank step shows up in traces with its inputs
and outputs. It does not import the index: a compressor over another retriever loads
neither FAISS nor an encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager, Callbacks
from langchain_core.documents import BaseDocumentCompressor
from langchain_core.documents import Document as LCDocument
from pydantic import ConfigDict

from shortlist import plan
from shortlist._adapters import CheckedArguments, rerank_plan_for
from shortlist.funnel import AUTO, Funnel
from shortlist.langchain._convert import lc_to_candidates, reranked_copy
from shortlist.plan import Plan, Value
from shortlist.rerank.base import Reranker


class ShortlistRerank(CheckedArguments, BaseDocumentCompressor):
    """Rerank LangChain documents with a cross-encoder, ONNX model or Cohere.

    Output documents are copies of the inputs (inputs are never mutated), best first,
    with ``metadata["relevance_score"]`` (the reranker's score of ``page_content``,
    higher is better), ``metadata["retrieval_rank"]`` (input position, or the rank a
    shortlist retriever recorded) and ``metadata["retrieval_score"]`` when the input
    carried one. With ``fusion`` set, the order follows the fused score, stored in
    ``metadata["fused_score"]``.

    Swap backends with one string: ``ShortlistRerank(reranker="cohere:rerank-v3.5")`` or
    ``ShortlistRerank(reranker="onnx:/models/ms-marco-MiniLM-L-12-v2-onnx-int8")``.
    Mistakes raise shortlist's typed errors, exactly as the LlamaIndex ``ShortlistRerank``
    does: an unknown argument (``topn=3``) or a bad value an
    :class:`~shortlist.errors.InvalidInputError`, an unknown backend an
    :class:`~shortlist.errors.UnknownBackendError`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    reranker: Reranker
    """A :class:`~shortlist.rerank.base.Reranker`, or a spec for ``shortlist.load_reranker``."""
    top_n: int | None = 3
    """Documents to keep (LangChain's default 3); ``None`` keeps all, reordered."""
    score_threshold: float | None = None
    """Drop documents whose relevance score is below this."""
    fusion: str | None = AUTO
    """Combine retrieval and rerank rankings: ``"auto"`` (default: fuse only documents a
    shortlist retriever scored, and only for a local cross-encoder -- see
    :func:`shortlist.funnel.resolve_fusion`; otherwise the reranker's order), ``None`` (the
    reranker's order), or a spec: ``"rrf"``, ``"rrf:k=60"``, ``"weighted:w=0.7"``."""
    rerank_budget_ms: float | None = None
    """Stop reranking after this many ms; the rest keep their retrieval order."""
    funnel: Funnel | None = None
    """A :class:`~shortlist.Funnel` (or a config file's path) whose reranker, ``top_n``,
    ``fusion``, ``score_threshold`` and ``rerank_budget_ms`` apply unless given here."""

    def compress_documents(
        self,
        documents: Sequence[LCDocument],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[LCDocument]:
        """Rerank ``documents`` against ``query``; returns scored copies, best first."""
        manager = CallbackManager.configure(callbacks, local_metadata=self._trace_metadata())
        return plan.run(self._plan(list(documents), query, manager))

    async def acompress_documents(
        self,
        documents: Sequence[LCDocument],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[LCDocument]:
        """Async :meth:`compress_documents` via the reranker's native async path."""
        manager = AsyncCallbackManager.configure(callbacks, local_metadata=self._trace_metadata())
        return await plan.arun(self._plan(list(documents), query, manager))

    def _plan(
        self, docs: list[LCDocument], query: str, manager: CallbackManager | AsyncCallbackManager
    ) -> Plan[list[LCDocument]]:
        """Both methods: a child run around the rerank (the async manager's callbacks are
        coroutines, which the async driver awaits)."""
        start = manager.on_chain_start(
            None, {"query": query, "documents": docs}, name=type(self).__name__
        )
        run = yield Value(start)
        try:
            metadatas = (d.metadata for d in docs)
            ranking = rerank_plan_for(self, query, lc_to_candidates(docs), metadatas)
            out = [reranked_copy(docs[i], hit) for i, hit in (yield from ranking)]
        except BaseException as exc:
            if not isinstance(exc, GeneratorExit):  # a closed plan cannot report
                yield Value(run.on_chain_error(exc))
            raise
        yield Value(run.on_chain_end({"documents": out}))
        return out

    def _trace_metadata(self) -> dict[str, Any]:
        return {"reranker": self.reranker.spec, "top_n": self.top_n, "fusion": self.fusion}
