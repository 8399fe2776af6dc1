"""A bounded cache of (query, candidate) scores, so a repeated pair is not scored again.

A chat app asks the same question over the same candidates again (a regenerate button, a
retry after a timeout, several users on one FAQ); each pair costs a cross-encoder pass of
~10 ms on CPU, or an API call, and a lookup costs a hash. Keys are a 16-byte BLAKE2b
digest of (reranker spec, query, text): two rerankers with different models or options
never share an entry, and no text is kept. Least recently used entries go first once
``max_pairs`` is reached. Off by default (see docs/serving.md for the measurement).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shortlist._validate import positive_int

BYTES_PER_PAIR = 190
"""Measured memory per cached pair (key, score, LRU links), for sizing ``max_pairs``."""


@dataclass(frozen=True)
class CacheInfo:
    """Hits and misses counted in pairs, since the cache was made or cleared."""

    hits: int
    misses: int
    size: int
    max_pairs: int

    @property
    def hit_rate(self) -> float:
        """Hits over lookups; 0.0 before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class ScoreCache:
    """LRU map from (reranker spec, query, text) to score; thread-safe, shareable.

    ``max_pairs`` bounds memory at about :data:`BYTES_PER_PAIR` bytes per pair
    (100,000 pairs: ~19 MB).
    """

    def __init__(self, max_pairs: int = 100_000) -> None:
        self.max_pairs = positive_int("max_pairs", max_pairs)
        self._scores: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def lookup(self, spec: str, query: str, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """Scores found (NaN where missing) and the positions still to score."""
        keys = self.keys(spec, query, texts)
        found = np.full(len(keys), np.nan, dtype=np.float64)
        missing: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                score = self._scores.get(key)
                if score is None:
                    missing.append(i)
                else:
                    self._scores.move_to_end(key)
                    found[i] = score
            self._hits += len(keys) - len(missing)
            self._misses += len(missing)
        return found, missing

    def store(self, spec: str, query: str, texts: Sequence[str], scores: np.ndarray) -> None:
        """Remember ``scores`` (one per text), evicting the least recently used beyond
        ``max_pairs``."""
        keys = self.keys(spec, query, texts)
        with self._lock:
            for key, score in zip(keys, np.asarray(scores, dtype=np.float64), strict=True):
                self._scores[key] = float(score)
                self._scores.move_to_end(key)
            while len(self._scores) > self.max_pairs:
                self._scores.popitem(last=False)

    @staticmethod
    def keys(spec: str, query: str, texts: Sequence[str]) -> list[bytes]:
        """One digest per pair; the (spec, query) prefix is hashed once."""
        prefix = hashlib.blake2b(digest_size=16)
        prefix.update(spec.encode("utf-8", "surrogatepass") + b"\x00")
        prefix.update(query.encode("utf-8", "surrogatepass") + b"\x00")
        out = []
        for text in texts:
            h = prefix.copy()
            h.update(text.encode("utf-8", "surrogatepass"))
            out.append(h.digest())
        return out

    def info(self) -> CacheInfo:
        """Hit and miss counts (in pairs) and the current size."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._scores), self.max_pairs)

    def clear(self) -> None:
        """Forget every score and reset the counts."""
        with self._lock:
            self._scores.clear()
            self._hits = self._misses = 0

    def __len__(self) -> int:
        return len(self._scores)

    def __repr__(self) -> str:
        i = self.info()
        return f"ScoreCache({i.size}/{i.max_pairs} pairs, hits={i.hits}, misses={i.misses})"
