"""A deterministic toy encoder for unit tests of index mechanics (no model needed).

Real-model behaviour is covered in tests/core; these tests exercise bookkeeping (ids,
persistence, filters) where the vectors' meaning does not matter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


class HashEncoder:
    """Maps each text to a fixed pseudo-random unit vector derived from its sha256."""

    def __init__(self, dim: int = 16, name: str = "hash-encoder") -> None:
        self.dim, self.name = dim, name

    def _vec(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        return (
            np.stack([self._vec(t) for t in texts])
            if texts
            else np.zeros((0, self.dim), np.float32)
        )

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)
