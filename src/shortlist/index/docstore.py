"""The document store behind every retriever: ids, stable keys, documents, tombstones.

A retrieval structure (FAISS, the BM25 postings) only sees int64 keys; this store maps
them to documents and back. Keys are never reused, so a deleted document can never be
confused with a newer one under the same key, and every retriever over the same store
agrees on what a key means. The store is not thread-safe by itself:
:class:`~shortlist.index.Index` serialises access to it.

Compact: documents are bytes in one arena (UTF-8 id, text and metadata JSON, back to
back), found through per-row offset arrays, and become :class:`Document` objects only
when asked for -- a million documents cost their bytes plus ~150 bytes each (the id ->
key table), not a million Python objects each. A loaded store's arena is the saved file,
memory-mapped; new documents go to an in-memory arena after it. Deleted rows stay until
:meth:`DocStore.arena_chunks` streams the live ones to a save, or they are half of all rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from shortlist.documents import Document, Hit, check_json_metadata
from shortlist.errors import IndexFormatError, InvalidInputError
from shortlist.index.filters import Predicate
from shortlist.index.persist import damaged
from shortlist.index.postings import Growing

_FIELDS = ("key", "id_at", "text_at", "meta_at", "end_at")
"""The columns of a saved store's ``rows`` array: a row's key, where its id, text and
metadata start in the arena, and where it ends."""


def restored(doc_id: str, text: str, metadata: dict[str, Any]) -> Document:
    """A stored document as it was checked and cleaned when it was added (no second deep
    copy or text check: the bytes came from a :class:`Document`)."""
    doc = object.__new__(Document)
    object.__setattr__(doc, "id", doc_id)
    object.__setattr__(doc, "text", text)
    object.__setattr__(doc, "metadata", MappingProxyType(metadata))
    return doc


class DocStore:
    """Documents by id, each under a stable int64 key that is never reused."""

    def __init__(self) -> None:
        self._keys: dict[str, int] = {}  # id -> key, in insertion order
        self._cols = {name: Growing(np.int64) for name in _FIELDS}
        self._live = Growing(np.bool_)
        self._base: np.ndarray = np.zeros(0, dtype=np.uint8)  # a loaded arena (mmapped)
        self._fresh = bytearray()  # bytes of documents added since; offsets continue base's
        self.tombstones: set[int] = set()
        """Keys deleted here whose vectors a structure could not remove (HNSW): masked."""
        self.next_key = 0
        """The next key to hand out; only ever grows."""

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._keys

    @property
    def ids(self) -> list[str]:
        """Document ids in insertion order."""
        return list(self._keys)

    def keys(self) -> np.ndarray:
        """Every live key, in key order (which is insertion order)."""
        return np.array(self._cols["key"].view[self._live.view])

    def get(self, ids: Iterable[str]) -> list[Document]:
        """The documents with these ids, in the given order; unknown ids are skipped."""
        return [self._read(self._row(self._keys[i])) for i in ids if i in self._keys]

    def get_by_keys(self, keys: Iterable[int]) -> list[Document]:
        """The documents under these (live) keys, in order."""
        return [self._read(self._row(key)) for key in keys]

    def document(self, key: int) -> Document | None:
        """The document under ``key``, or ``None`` for a deleted or unknown key."""
        row = self._row(key)
        return self._read(row) if row >= 0 and self._live.view[row] else None

    def keys_of(self, ids: Iterable[str]) -> list[int]:
        """Keys of the ids that are present (unknown ids skipped, duplicates once)."""
        return [self._keys[i] for i in dict.fromkeys(ids) if i in self._keys]

    def taken(self, docs: Sequence[Document]) -> list[str]:
        """Ids among ``docs`` that are already stored."""
        return [d.id for d in docs if d.id in self._keys]

    def fresh_keys(self, count: int) -> np.ndarray:
        """The next ``count`` keys this store would hand out."""
        return np.arange(self.next_key, self.next_key + count, dtype=np.int64)

    # ----------------------------------------------------------------- writes
    def assign(self, docs: Sequence[Document], keys: np.ndarray | None = None) -> np.ndarray:
        """Store new documents under fresh keys; returns the keys, in order.

        ``keys``: given by a sharded index, which hands out corpus-wide keys so that ties
        rank in the same order as in one index over every document.
        """
        keys = self.fresh_keys(len(docs)) if keys is None else np.asarray(keys, np.int64)
        if len(keys) and (int(keys.min()) < self.next_key or np.any(np.diff(keys) <= 0)):
            raise InvalidInputError(
                f"Keys must be new (>= {self.next_key}) and increasing; keys are never reused."
            )
        offsets = np.zeros((len(docs), 4), dtype=np.int64)
        at = len(self._base) + len(self._fresh)
        for i, doc in enumerate(docs):
            meta = json.dumps(dict(doc.metadata), ensure_ascii=False) if doc.metadata else ""
            for j, part in enumerate((doc.id, doc.text, meta)):
                offsets[i, j] = at
                data = part.encode("utf-8")
                self._fresh += data
                at += len(data)
            offsets[i, 3] = at
        for j, name in enumerate(_FIELDS):
            self._cols[name].extend(keys if j == 0 else offsets[:, j - 1])
        self._live.extend(np.ones(len(docs), dtype=np.bool_))
        for key, doc in zip(keys.tolist(), docs, strict=True):
            self._keys[doc.id] = key
        if len(keys):
            self.next_key = int(keys.max()) + 1
        return keys

    def remove(self, keys: Iterable[int]) -> int:
        """Forget the documents under ``keys``; returns how many were removed."""
        count, live = 0, self._live.view
        for key in keys:
            row = self._row(key)
            if row >= 0 and live[row]:
                live[row] = False
                del self._keys[self._text(row, "id_at", "text_at")]
                count += 1
        if len(live) > 1024 and len(self._keys) < len(live) // 2:
            self._compacted()  # deleted rows are half of them: reclaim their memory
        return count

    # ----------------------------------------------------------------- reads
    def matching(self, predicate: Predicate) -> np.ndarray:
        """Keys of the documents whose metadata satisfies ``predicate`` (pre-filtering)."""
        live = self._live.view
        plain = self._cols["meta_at"].view == self._cols["end_at"].view  # no metadata at all
        wanted = np.zeros(len(live), dtype=np.bool_)
        if (live & plain).any() and predicate({}):  # asked once for them all
            wanted = live & plain
        for row in np.flatnonzero(live & ~plain).tolist():
            wanted[row] = predicate(self._metadata(row))
        return np.array(self._cols["key"].view[wanted])

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
        return make_hits(self.document, scores, keys, dense=dense, bm25=bm25)

    def _row(self, key: int) -> int:
        stored = self._cols["key"].view
        row = int(np.searchsorted(stored, key))
        return row if row < len(stored) and stored[row] == key else -1

    def _bytes(self, start: int, end: int) -> bytes:
        base = len(self._base)
        if start >= base:
            return bytes(self._fresh[start - base : end - base])
        if end <= base:
            return self._base[start:end].tobytes()
        return self._base[start:].tobytes() + bytes(self._fresh[: end - base])

    def _text(self, row: int, start: str, end: str) -> str:
        cols = self._cols
        return self._bytes(int(cols[start].view[row]), int(cols[end].view[row])).decode("utf-8")

    def _metadata(self, row: int) -> dict[str, Any]:
        raw = self._text(row, "meta_at", "end_at")
        return json.loads(raw) if raw else {}

    def _read(self, row: int) -> Document:
        return restored(
            self._text(row, "id_at", "text_at"),
            self._text(row, "text_at", "meta_at"),
            self._metadata(row),
        )

    # ----------------------------------------------------------------- persistence
    def live_rows(self) -> np.ndarray:
        """The live documents as an int64 ``(n, 5)`` array of :data:`_FIELDS`, offsets
        into the arena :meth:`arena_chunks` yields (what a save writes)."""
        live = np.flatnonzero(self._live.view)
        starts, ends = self._cols["id_at"].view[live], self._cols["end_at"].view[live]
        shift = np.concatenate([[0], np.cumsum(ends - starts)[:-1]]) - starts  # new - old
        rows = np.stack([self._cols[n].view[live] for n in _FIELDS], axis=1)
        rows[:, 1:] += shift[:, None]
        return rows

    def arena_chunks(self, rows_per_chunk: int = 1 << 16) -> Iterator[bytes]:
        """The live documents' bytes in row order, a chunk at a time, so a save streams a
        million documents instead of holding a second copy of them."""
        live = np.flatnonzero(self._live.view)
        starts, ends = self._cols["id_at"].view, self._cols["end_at"].view
        for first in range(0, len(live), rows_per_chunk):
            rows = live[first : first + rows_per_chunk]
            if rows[-1] - rows[0] == len(rows) - 1:  # consecutive rows: one byte range
                yield self._bytes(int(starts[rows[0]]), int(ends[rows[-1]]))
            else:
                yield b"".join(self._bytes(int(starts[r]), int(ends[r])) for r in rows.tolist())

    def _compacted(self) -> None:
        """Drop deleted rows and their bytes (they are half of all rows)."""
        rows = self.live_rows()
        arena = np.frombuffer(b"".join(self.arena_chunks()), dtype=np.uint8)
        self._load_arrays(rows, arena)

    def _load_arrays(self, rows: np.ndarray, arena: np.ndarray) -> None:
        self._cols = {n: Growing(np.int64, np.array(rows[:, j])) for j, n in enumerate(_FIELDS)}
        self._live = Growing(np.bool_, np.ones(len(rows), dtype=np.bool_))
        self._base, self._fresh = arena, bytearray()

    @classmethod
    def from_arrays(
        cls, rows: np.ndarray, arena: np.ndarray, next_key: int, where: str
    ) -> DocStore:
        """A store over saved arrays (``arena`` may be memory-mapped), rejecting anything
        that would read outside the arena, repeat a key or an id, or lose a document."""
        store = cls()
        ok = rows.ndim == 2 and rows.shape[1] == len(_FIELDS) and arena.ndim == 1
        if ok and len(rows):
            keys, offsets = rows[:, 0], rows[:, 1:]
            ok = bool(
                np.all(np.diff(keys) > 0)
                and keys[0] >= 0
                and keys[-1] < next_key
                and np.all(np.diff(offsets, axis=1) >= 0)
                and offsets[0, 0] >= 0
                and np.all(offsets[1:, 0] == offsets[:-1, -1])
                and offsets[-1, -1] <= len(arena)
            )
        if not ok:
            raise damaged(where, "the document arrays are inconsistent")
        store._load_arrays(rows, arena)
        store.next_key = next_key
        arena_view = arena.data  # a memory map: one id at a time, no copy
        starts, ends = rows[:, 1].tolist(), rows[:, 2].tolist()
        ids = store._keys
        try:
            for row, key in enumerate(rows[:, 0].tolist()):
                doc_id = str(arena_view[starts[row] : ends[row]], "utf-8")
                if not doc_id or ids.setdefault(doc_id, key) != key:
                    raise ValueError(f"id {doc_id!r} is empty or repeated")
        except (UnicodeDecodeError, ValueError) as exc:
            raise damaged(where, f"document row {row + 1} is malformed ({exc})") from exc
        return store

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]], next_key: int, where: str) -> DocStore:
        """A store from ``documents.jsonl`` rows (format 1), rejecting anything
        that would lose a document."""
        found: dict[int, Document] = {}
        seen: set[str] = set()
        for n, row in enumerate(rows, 1):
            try:
                key, doc_id, metadata = int(row["key"]), row["id"], row["metadata"]
                check_json_metadata(doc_id, metadata)
                doc = Document(id=doc_id, text=row["text"], metadata=metadata)
            except (KeyError, TypeError, ValueError, InvalidInputError) as exc:
                raise IndexFormatError(f"{where}: document row {n} is malformed ({exc}).") from exc
            if key in found or doc.id in seen or not 0 <= key < next_key:
                raise IndexFormatError(
                    f"{where}: document row {n} (id {doc.id!r}, key {key}) repeats an id or "
                    f"a key, or its key is not below next_key={next_key}; the index is corrupt."
                )
            found[key] = doc
            seen.add(doc.id)
        store = cls()
        keys = np.array(sorted(found), dtype=np.int64)
        store.assign([found[k] for k in keys.tolist()], keys)
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
