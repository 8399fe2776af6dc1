"""``ShortlistVectorStore``: the shortlist FAISS Index behind LangChain's VectorStore API.

For code written against ``VectorStore`` (``from_texts``, ``add_documents``,
``similarity_search_with_score``, ``as_retriever``, the indexing API). Search here is what
LangChain's ``VectorStore`` means by it -- vector similarity (the funnel's hybrid stage 1 is
``ShortlistRetriever``) -- and scores are cosine similarities, higher is better, unlike
LangChain's ``FAISS`` default of L2 distance, and
they are returned next to the documents, never written into their metadata.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from shortlist._executor import offloaded
from shortlist.documents import Hit
from shortlist.errors import InvalidInputError
from shortlist.index import BaseIndex, Filter, Index
from shortlist.langchain._convert import document_to_lc
from shortlist.langchain.embeddings import LangChainEmbeddingsEncoder


class ShortlistVectorStore(VectorStore):
    """A LangChain vector store over a :class:`~shortlist.index.Index`.

    Create it over an existing index (``ShortlistVectorStore(index=idx)``, e.g. one built
    with a sentence-transformers model or loaded from disk) or from LangChain embeddings
    (``ShortlistVectorStore(embedding=emb)``: an empty index over
    :class:`LangChainEmbeddingsEncoder`). The index is shared, not copied: ``.index``
    also serves ``ShortlistRetriever``, a ``Pipeline`` and ``index.save()``.

    Adding a document whose id is already stored replaces it (upsert). Metadata must be
    JSON-serialisable, since the index persists it as JSON.
    """

    def __init__(
        self,
        index: BaseIndex | None = None,
        *,
        embedding: Embeddings | None = None,
        spec: str | None = None,
        metric: str = "cosine",
    ) -> None:
        if index is None and embedding is None:
            raise InvalidInputError(
                "Pass index= (an existing shortlist Index) or embedding= (LangChain "
                "Embeddings for a new, empty index)."
            )
        if index is None:
            index = Index(LangChainEmbeddingsEncoder(embedding), spec=spec, metric=metric)  # type: ignore[arg-type]
        elif not isinstance(index, BaseIndex):
            raise InvalidInputError(f"index must be a shortlist Index, got {type(index).__name__}.")
        self.index = index
        self._embedding = embedding

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> ShortlistVectorStore:
        """A new store over ``embedding`` holding ``texts``; kwargs: ``spec``, ``metric``."""
        store = cls(embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @property
    def embeddings(self) -> Embeddings | None:
        """The LangChain embeddings in use, or ``None`` when the index has a native encoder."""
        if self._embedding is not None:
            return self._embedding
        encoder = self.index.encoder
        return encoder.embeddings if isinstance(encoder, LangChainEmbeddingsEncoder) else None

    # ------------------------------------------------------------------ mutation
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store ``texts``; existing ids are replaced, missing ids generated.

        ``batch_size`` (sent by LangChain's indexing API) is accepted and ignored.
        """
        kwargs.pop("batch_size", None)
        _no_extra(kwargs, "add_texts")
        return self.index.upsert(_texts(texts, "add_texts"), metadatas=metadatas, ids=ids)

    # Async twins: the sync method in shortlist's worker pool. Typed Any because LangChain
    # declares them narrower than ours (no filter=), and mypy would hold the twin to that.
    aadd_texts: Any = offloaded(add_texts)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Remove documents by id; ids not in the store are ignored."""
        _no_extra(kwargs, "delete")
        if ids is None:
            raise InvalidInputError(
                "delete() needs a list of ids; to empty the store pass store.index.ids."
            )
        self.index.delete(ids)
        return True

    adelete: Any = offloaded(delete)

    def get_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        """Stored documents for ``ids`` (unknown ids skipped), metadata without scores."""
        return [document_to_lc(d) for d in self.index.get(list(ids))]

    aget_by_ids: Any = offloaded(get_by_ids)

    # ------------------------------------------------------------------ search
    def similarity_search(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[LCDocument]:
        """The ``k`` documents most similar to ``query``, best first."""
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    asimilarity_search: Any = offloaded(similarity_search)

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        """(document, cosine similarity) pairs, best first; higher is more similar."""
        _no_extra(kwargs, "similarity_search_with_score")
        return _pairs(self.index.search(query, k, filter=filter, mode="dense"))

    asimilarity_search_with_score: Any = offloaded(similarity_search_with_score)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[LCDocument]:
        """The ``k`` documents most similar to a query vector."""
        pairs = self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)
        return [d for d, _ in pairs]

    asimilarity_search_by_vector: Any = offloaded(similarity_search_by_vector)

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[tuple[LCDocument, float]]:
        """(document, similarity) pairs for a query vector, best first."""
        _no_extra(kwargs, "similarity_search_by_vector")
        vector = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        return _pairs(self.index.search_vectors(vector, k, filter=filter)[0])

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Map similarities to LangChain's 0..1 relevance (used by score_threshold search).

        Cosine in [-1, 1] maps linearly to [0, 1]; unbounded inner products through a
        sigmoid. Both keep the order, so a threshold means the same on every query.
        """
        return _cosine_relevance if self.index.metric == "cosine" else _sigmoid


def _pairs(hits: Sequence[Hit]) -> list[tuple[LCDocument, float]]:
    return [(document_to_lc(h.document), float(h.score)) for h in hits]


def _cosine_relevance(similarity: float) -> float:
    return min(1.0, max(0.0, (1.0 + similarity) / 2.0))


def _sigmoid(score: float) -> float:
    if score >= 0:
        return 1.0 / (1.0 + math.exp(-score))
    z = math.exp(score)  # no overflow for very negative scores
    return z / (1.0 + z)


def _no_extra(kwargs: dict[str, Any], method: str) -> None:
    """Unknown keyword arguments are an error rather than silently ignored."""
    if kwargs:
        raise InvalidInputError(
            f"ShortlistVectorStore.{method}() got unsupported arguments {sorted(kwargs)}; "
            "supported: k, filter (search) and ids, metadatas (add)."
        )


def _texts(texts: Iterable[str], method: str) -> list[str]:
    """The texts as a list; a lone string would otherwise be stored letter by letter."""
    if isinstance(texts, str):
        raise InvalidInputError(
            f"{method}() takes a list of texts, not a single string: {method}([{texts[:40]!r}])."
        )
    return list(texts)
