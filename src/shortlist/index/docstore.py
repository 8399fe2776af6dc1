"""The document store behind every retriever: ids, stable keys, documents, tombstones.

A retrieval structure (FAISS today, a lexical index beside it tomorrow) only sees int64
keys; this store maps them to documents and back. Keys are never reused, so a deleted
document can never be confused with a newer one under the same key, and every retriever
over the same store agrees on what a key means. The store is not thread-safe by itself:
:class:`~shortlist.index.Index` serialises access to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from shortlist.documents import Document, Hit, check_json_metadata
from shortlist.errors import IndexFormatError, InvalidInputError
from shortlist.index.filters import Predicate


class DocStore:
    """Documents by id, each under a stable int64 key that is never reused."""

    def __init__(self) -> None:
        self._docs: dict[int, Document] = {}
        self._keys: dict[str, int] = {}
        self.tombstones: set[int] = set()
        """Keys deleted here whose vectors a structure could not remove (HNSW): masked."""
        self.next_key = 0
        """The next key to hand out; only ever grows."""

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._keys

    @property
    def ids(self) -> list[str]:
        """Document ids in insertion order."""
        return list(self._keys)

    def keys(self) -> np.ndarray:
        """Every live key, in insertion order."""
        return np.fromiter(self._docs, dtype=np.int64, count=len(self._docs))

    def get(self, ids: Iterable[str]) -> list[Document]:
        """The documents with these ids, in the given order; unknown ids are skipped."""
        return [self._docs[self._keys[i]] for i in ids if i in self._keys]

    def get_by_keys(self, keys: Iterable[int]) -> list[Document]:
        """The documents under these (live) keys, in order."""
        return [self._docs[key] for key in keys]

    def document(self, key: int) -> Document | None:
        """The document under ``key``, or ``None`` for a deleted or unknown key."""
        return self._docs.get(key)

    def keys_of(self, ids: Iterable[str]) -> list[int]:
        """Keys of the ids that are present (unknown ids skipped, duplicates once)."""
        return [self._keys[i] for i in dict.fromkeys(ids) if i in self._keys]

    def taken(self, docs: Sequence[Document]) -> list[str]:
        """Ids among ``docs`` that are already stored."""
        return [d.id for d in docs if d.id in self._keys]

    def fresh_keys(self, count: int) -> np.ndarray:
        """The next ``count`` keys this store would hand out."""
        return np.arange(self.next_key, self.next_key + count, dtype=np.int64)

    def assign(self, docs: Sequence[Document], keys: np.ndarray | None = None) -> np.ndarray:
        """Store new documents under fresh keys; returns the keys, in order.

        ``keys``: given by a sharded index, which hands out corpus-wide keys so that ties
        rank in the same order as in one index over every document.
        """
        keys = self.fresh_keys(len(docs)) if keys is None else keys
        if len(keys) and int(keys.min()) < self.next_key:
            raise InvalidInputError(
                f"Keys must be new (>= {self.next_key}); keys are never reused."
            )
        for key, doc in zip(keys.tolist(), docs, strict=True):
            self._docs[key] = doc
            self._keys[doc.id] = key
        if len(keys):
            self.next_key = int(keys.max()) + 1
        return keys

    def remove(self, keys: Iterable[int]) -> int:
        """Forget the documents under ``keys``; returns how many were removed."""
        count = 0
        for key in keys:
            doc = self._docs.pop(key, None)
            if doc is not None:
                del self._keys[doc.id]
                count += 1
        return count

    def matching(self, predicate: Predicate) -> np.ndarray:
        """Keys of the documents whose metadata satisfies ``predicate`` (pre-filtering)."""
        return np.fromiter(
            (key for key, doc in self._docs.items() if predicate(doc.metadata)), dtype=np.int64
        )

    def hits(
        self,
        scores: np.ndarray,
        keys: np.ndarray,
        *,
        dense: np.ndarray | None = None,
        bm25: np.ndarray | None = None,
    ) -> list[Hit]:
        """Ranked hits for (score, key) rows, best first; unknown or deleted keys skipped.

        ``dense``/``bm25`` hold each retriever's raw score per row (NaN: not found there).
        """
        return make_hits(self._docs.get, scores, keys, dense=dense, bm25=bm25)

    # ----------------------------------------------------------------- persistence rows
    def rows(self) -> Iterator[dict[str, Any]]:
        """One plain-JSON row per document, for ``documents.jsonl``."""
        for key, doc in self._docs.items():
            yield {"key": key, **doc.to_dict()}

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]], next_key: int, where: str) -> DocStore:
        """Rebuild a store from saved rows, rejecting anything that would lose a document."""
        store = cls()
        for n, row in enumerate(rows, 1):
            try:
                key, doc_id, metadata = int(row["key"]), row["id"], row["metadata"]
                check_json_metadata(doc_id, metadata)
                doc = Document(id=doc_id, text=row["text"], metadata=metadata)
            except (KeyError, TypeError, ValueError, InvalidInputError) as exc:
                raise IndexFormatError(f"{where}: document row {n} is malformed ({exc}).") from exc
            if key in store._docs or doc.id in store._keys or not 0 <= key < next_key:
                raise IndexFormatError(
                    f"{where}: document row {n} (id {doc.id!r}, key {key}) repeats an id or "
                    f"a key, or its key is not below next_key={next_key}; the index is corrupt."
                )
            store._docs[key] = doc
            store._keys[doc.id] = key
        store.next_key = next_key
        return store


def make_hits(
    lookup: Callable[[int], Document | None],
    scores: np.ndarray,
    keys: np.ndarray,
    *,
    dense: np.ndarray | None = None,
    bm25: np.ndarray | None = None,
) -> list[Hit]:
    """Ranked hits for (score, key) rows, best first, documents found by ``lookup``."""
    hits: list[Hit] = []
    for i, (score, key) in enumerate(zip(scores.tolist(), keys.tolist(), strict=True)):
        doc = lookup(key) if key >= 0 else None
        if doc is None:
            continue
        rank = len(hits) + 1
        hits.append(
            Hit(
                doc,
                float(score),
                rank,
                retrieval_score=float(score),
                retrieval_rank=rank,
                dense_score=_present(dense, i),
                bm25_score=_present(bm25, i),
            )
        )
    return hits


def _present(values: np.ndarray | None, i: int) -> float | None:
    if values is None or not np.isfinite(values[i]):
        return None
    return float(values[i])
