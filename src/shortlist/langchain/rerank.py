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

from shortlist._adapters import CheckedArguments, rerank_fusion
from shortlist.funnel import AUTO, Funnel
from shortlist.langchain._convert import lc_to_candidates, reranked_copy
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
        docs = list(documents)
        manager = CallbackManager.configure(callbacks, local_metadata=self._trace_metadata())
        run = manager.on_chain_start(
            None, {"query": query, "documents": docs}, name=type(self).__name__
        )
        try:
            ranked = self.reranker.rerank_hits(query, lc_to_candidates(docs), **self._options(docs))
            out = [reranked_copy(docs[i], hit) for i, hit in ranked]
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        run.on_chain_end({"documents": out})
        return out

    async def acompress_documents(
        self,
        documents: Sequence[LCDocument],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[LCDocument]:
        """Async :meth:`compress_documents` via the reranker's native async path."""
        docs = list(documents)
        manager = AsyncCallbackManager.configure(callbacks, local_metadata=self._trace_metadata())
        run = await manager.on_chain_start(
            None, {"query": query, "documents": docs}, name=type(self).__name__
        )
        try:
            ranked = await self.reranker.arerank_hits(
                query, lc_to_candidates(docs), **self._options(docs)
            )
            out = [reranked_copy(docs[i], hit) for i, hit in ranked]
        except BaseException as exc:
            await run.on_chain_error(exc)
            raise
        await run.on_chain_end({"documents": out})
        return out

    def _options(self, docs: Sequence[LCDocument]) -> dict[str, Any]:
        """``rerank_hits`` keywords for these documents (the fusion rule needs them)."""
        return {
            "top_n": self.top_n,
            "score_threshold": self.score_threshold,
            "fusion": rerank_fusion(self.fusion, self.reranker, (d.metadata for d in docs)),
            "budget_ms": self.rerank_budget_ms,
        }

    def _trace_metadata(self) -> dict[str, Any]:
        return {"reranker": self.reranker.spec, "top_n": self.top_n, "fusion": self.fusion}
