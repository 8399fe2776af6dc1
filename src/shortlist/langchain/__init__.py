"""LangChain integration: shortlist retrieval and reranking as LangChain components.

* :class:`ShortlistRetriever` -- an Index (or a whole retrieve+rerank Pipeline) as a
  ``BaseRetriever``;
* :class:`ShortlistRerank` -- any shortlist reranker as a ``BaseDocumentCompressor``
  (e.g. inside ``ContextualCompressionRetriever``);
* :class:`ShortlistVectorStore` -- the Index behind LangChain's ``VectorStore`` API;
* :class:`LangChainEmbeddingsEncoder` -- LangChain ``Embeddings`` as a shortlist encoder.

The core never imports this package. Without ``langchain-core`` installed, importing it
raises :class:`shortlist.errors.MissingDependencyError` with the pip command. Names load
lazily: ``from shortlist.langchain import ShortlistRerank`` imports neither the index nor
FAISS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shortlist._lazy import lazy_names
from shortlist._optional import require
from shortlist.documents import FUSED_SCORE_KEY

require("langchain_core", feature="shortlist.langchain", extra="langchain")

if TYPE_CHECKING:
    from shortlist.langchain.embeddings import LangChainEmbeddingsEncoder
    from shortlist.langchain.rerank import ShortlistRerank
    from shortlist.langchain.retriever import ShortlistRetriever
    from shortlist.langchain.vectorstore import ShortlistVectorStore

_LAZY = {
    "LangChainEmbeddingsEncoder": "shortlist.langchain.embeddings",
    "ShortlistRerank": "shortlist.langchain.rerank",
    "ShortlistRetriever": "shortlist.langchain.retriever",
    "ShortlistVectorStore": "shortlist.langchain.vectorstore",
}

__all__ = [
    "FUSED_SCORE_KEY",
    "LangChainEmbeddingsEncoder",
    "ShortlistRerank",
    "ShortlistRetriever",
    "ShortlistVectorStore",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
