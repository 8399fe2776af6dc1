"""LangChain's own standard suites, run against the shortlist adapters.

The retriever suite runs on a real index (200 cranfield docs, all-MiniLM-L6-v2); the
vector-store suite on the 6-dimensional fake embedding the suite itself prescribes,
through LangChainEmbeddingsEncoder and the same FAISS Index.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import (
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)

from shortlist import Index
from shortlist.langchain import ShortlistRetriever, ShortlistVectorStore

from .lc_fixtures import QUERY, lc_index  # noqa: F401


class TestShortlistRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _use_index(self, lc_index: Index) -> None:  # noqa: F811
        self._index = lc_index

    @property
    def retriever_constructor(self) -> type[ShortlistRetriever]:
        return ShortlistRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"index": self._index, "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return QUERY


class TestShortlistVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self) -> VectorStore:  # type: ignore[override]
        """A fresh, empty store per test, as the suite requires."""
        return ShortlistVectorStore(embedding=self.get_embeddings())
