"""One shard of a :class:`~shortlist.index.ShardedIndex`: an ordinary
:class:`~shortlist.index.Index` over the documents whose ids route to it.

:class:`ShardWorker` is the shard's side of every call. The same class runs in the
caller's process or on a Ray actor (:mod:`.shards`), so the two can never
behave differently. A shard never embeds: its sharded index encodes once and sends the
vectors, so a shard holds no model, only the model's identity for its manifest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from shortlist.documents import Document
from shortlist.errors import InvalidInputError
from shortlist.index.faiss_index import Index
from shortlist.index.hybrid import Lists, Wanted
from shortlist.index.lexical import Bm25, CorpusStats


def shard_of(doc_id: str, shards: int) -> int:
    """The shard that owns ``doc_id``: a stable hash (not Python's, which changes per
    process), so every process and every run routes an id to the same shard."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


class RecordedEncoder:
    """The identity of the model that embeds a sharded index (name, dim, fingerprint),
    without loading it: what a shard's manifest records. It cannot encode."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = dict(record)
        self.fingerprint = record.get("fingerprint")
        self.source = record.get("source_hint")

    @property
    def name(self) -> str:
        return str(self.record["name"])

    @property
    def dim(self) -> int:
        return int(self.record["dim"])

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        raise InvalidInputError(
            "A shard does not embed; its ShardedIndex encodes and sends vectors."
        )

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)


class ShardWorker:
    """A shard: starts empty (``path=None``) or loads a saved shard folder.

    ``bm25`` is :meth:`Bm25.options` (plain values, so it travels to a Ray actor).
    """

    def __init__(
        self,
        encoder: dict[str, Any],
        *,
        spec: str,
        metric: str,
        bm25: dict[str, Any] | None,
        path: str | None = None,
    ) -> None:
        recorded = RecordedEncoder(encoder)
        lexical = Bm25(**bm25) if bm25 is not None else None
        if path is not None:
            self.index = Index._load_one(path, recorded, bm25=lexical)
        else:
            self.index = Index(recorded, spec=spec, metric=metric, bm25=lexical or False)

    def ready(self) -> bool:
        """For a Ray actor: returns once the shard is built or loaded."""
        return True

    def count(self) -> int:
        return len(self.index)

    def next_key(self) -> int:
        return self.index._store.next_key

    def id_keys(self) -> list[tuple[int, str]]:
        store = self.index._store
        return [(store._keys[i], i) for i in store.ids]

    def contains(self, doc_id: str) -> bool:
        return doc_id in self.index

    def taken(self, ids: list[str]) -> list[str]:
        return [i for i in ids if i in self.index]

    def get(self, ids: list[str]) -> list[Document]:
        return self.index.get(ids)

    def insert(
        self, docs: list[Document], vectors: np.ndarray, keys: np.ndarray, replace: bool
    ) -> list[str]:
        return self.index._insert(docs, vectors, False, replace=replace, keys=keys)

    def delete(self, ids: list[str]) -> int:
        return self.index.delete(ids)

    def lists(self, wanted: Wanted) -> list[Lists]:
        return self.index._ranked(wanted)

    def local_stats(self) -> CorpusStats:
        with self.index._lock:
            return self._bm25().local_stats()

    def use_corpus_stats(self, stats: CorpusStats) -> None:
        with self.index._lock:
            self._bm25().use_corpus_stats(stats)

    def _bm25(self) -> Bm25:
        if self.index.bm25 is None:
            raise InvalidInputError("This shard has no BM25; build the sharded index with bm25.")
        return self.index.bm25

    def save(self, path: str) -> str:
        return os.fspath(self.index.save(path))
