"""An index over Cranfield whose query embeddings are memoised.

Evaluation tests search the same few queries many times (per N, per system, against
direct searches); encoding each query once keeps them fast without changing a result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest


class MemoEncoder:
    """Wraps an encoder; remembers query vectors (documents pass straight through)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self._memo: dict[str, np.ndarray] = {}

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        return self.inner.encode_documents(
            texts, batch_size=batch_size, show_progress=show_progress
        )

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            for text, vec in zip(missing, self.inner.encode_queries(missing), strict=True):
                self._memo[text] = vec
        return np.vstack([self._memo[t] for t in texts])


@pytest.fixture(scope="session")
def memo_index(bi_encoder, cranfield_docs, cranfield_vectors):  # type: ignore[no-untyped-def]
    """Flat index over all of Cranfield (real vectors), memoised query encoder. Do not mutate."""
    from shortlist.index import Index

    index = Index(MemoEncoder(bi_encoder))
    index.add(cranfield_docs, embeddings=cranfield_vectors)
    return index
