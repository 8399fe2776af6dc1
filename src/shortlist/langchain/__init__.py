"""LangChain integration: shortlist retrieval and reranking as LangChain components.

* :class:`ShortlistRetriever` -- an Index (or a whole retrieve+rerank Pipeline) as a
  ``BaseRetriever``;
* :class:`ShortlistRerank` -- any shortlist reranker as a ``BaseDocumentCompressor``
  (e.g. inside ``ContextualCompressionRetriever``);
* :class:`ShortlistVectorStore` -- the Index behind LangChain's ``VectorStore`` API;
* :class:`LangChainEmbeddingsEncoder` -- LangChain ``Embeddings`` as a shortlist encoder.

The core never imports this package. Without ``langchain-core`` installed, importing it
raises :class:`shortlist.errors.MissingDependencyError` with the pip command.
"""

from shortlist._optional import require

require("langchain_core", feature="shortlist.langchain", extra="langchain")

from shortlist.documents import FUSED_SCORE_KEY  # noqa: E402
from shortlist.langchain.embeddings import LangChainEmbeddingsEncoder  # noqa: E402
from shortlist.langchain.rerank import ShortlistRerank  # noqa: E402
from shortlist.langchain.retriever import ShortlistRetriever  # noqa: E402
from shortlist.langchain.vectorstore import ShortlistVectorStore  # noqa: E402

__all__ = [
    "FUSED_SCORE_KEY",
    "LangChainEmbeddingsEncoder",
    "ShortlistRerank",
    "ShortlistRetriever",
    "ShortlistVectorStore",
]
