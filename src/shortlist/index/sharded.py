"""An index split into shards by document id, searched as one.

Each shard is an ordinary :class:`~shortlist.index.Index` (:mod:`.shard`), in this process
or on a Ray actor (:mod:`.shards`). A query is encoded once, sent to every
shard, and the shards' ranked lists are merged before fusion (:func:`.hybrid.merge`), so
on exact (flat) shards the result *is* the single index's: same ids, order and scores, in
every mode and under filters. Two things make that hold:

* **Keys are handed out here**, corpus-wide, in insertion order, so ties rank as in one
  index (older document first).
* **BM25 scores with the whole corpus' statistics** (document frequencies, average length),
  gathered from the shards and pushed back to them before a lexical search whenever the
  corpus changed -- as a search engine's distributed frequency phase does. Per-shard
  statistics would give each shard its own idf, and merged lexical rankings would differ.

An id always routes to the same shard (:func:`.shard.shard_of`), so upserts and deletes
go to the one shard that owns the document and an id can never exist twice.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shortlist._validate import positive_int
from shortlist.documents import Document
from shortlist.encoders import Encoder
from shortlist.encoders.identity import describe
from shortlist.index import hybrid, persist, sharded_storage
from shortlist.index.base import BaseIndex, IndexSettings
from shortlist.index.lexical import Bm25, CorpusStats
from shortlist.index.shard import shard_of
from shortlist.index.shards import start_shards

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing's own from Python 3.11


class ShardedIndex(BaseIndex):
    """``shards`` indexes behind one :class:`~shortlist.index.Index` API.

    Args:
        encoder, spec, metric, batch_size, bm25, mode, alpha, rrf_k, hybrid: as for ``Index``
            (each shard gets the same structure and BM25 options).
        shards: how many shards (fixed for the index's life: ids are routed by hash).
        ray: ``False`` (default) keeps the shards in this process; ``True`` puts each on a
            Ray actor of the current Ray cluster (``pip install 'shortlist[ray]'``,
            ``ray.init(...)`` first), so their memory and search spread over its nodes; a
            dict of Ray actor options (e.g. ``{"resources": {"big_memory": 1}}``) places them.
        shard_cpus: CPUs each shard actor reserves (with ``ray=True``).
    """

    def __init__(
        self,
        encoder: Encoder | str | os.PathLike[str] | None = None,
        *,
        shards: int = 2,
        ray: bool | Mapping[str, Any] = False,
        shard_cpus: float = 0.25,
        **settings: Unpack[IndexSettings],
    ) -> None:
        shards = positive_int("shards", shards)
        self._init_state(encoder, **settings)
        self._shards = start_shards(self._worker_options(), [None] * shards, ray, shard_cpus)

    def _init_state(
        self, encoder: Encoder | str | os.PathLike[str] | None, **settings: Any
    ) -> None:
        """Everything but the shards (which a load starts on their saved folders); the
        settings are :meth:`BaseIndex._configure`'s."""
        self._configure(encoder, **settings)
        self._next_key = 0
        self._stats_fresh = False  # shards score with their own statistics until a sync

    @classmethod
    def _on(
        cls,
        encoder: Encoder,
        paths: list[str | None],
        *,
        ray: bool | Mapping[str, Any],
        shard_cpus: float,
        next_key: int = 0,
        **state: Any,
    ) -> ShardedIndex:
        """An index over shards that start empty (``None``) or load a saved folder."""
        index = cls.__new__(cls)
        index._init_state(encoder, **state)
        index._next_key = next_key
        index._shards = start_shards(index._worker_options(), paths, ray, shard_cpus)
        return index

    def _worker_options(self) -> dict[str, Any]:
        return {
            "encoder": describe(self.encoder),
            "spec": str(self.spec),
            "metric": self.metric,
            "bm25": self.bm25.options() if self.bm25 is not None else None,
        }

    @classmethod
    def build(
        cls,
        documents: Iterable[str | Document],
        encoder: Encoder | str | os.PathLike[str] | None = None,
        *,
        shards: int = 2,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        embeddings: np.ndarray | None = None,
        show_progress: bool | None = None,
        **options: Any,
    ) -> ShardedIndex:
        """Embed ``documents`` and spread them over ``shards`` (options as ``__init__``)."""
        index = cls(encoder, shards=shards, **options)
        index.add(
            documents,
            metadatas=metadatas,
            ids=ids,
            embeddings=embeddings,
            show_progress=show_progress,
        )
        return index

    # ----------------------------------------------------------------- properties
    @property
    def shards(self) -> int:
        return len(self._shards)

    def __len__(self) -> int:
        return sum(self._shards.each("count"))

    def __contains__(self, doc_id: object) -> bool:
        if not isinstance(doc_id, str):
            return False
        return bool(self._shards.one(shard_of(doc_id, self.shards), "contains", doc_id))

    def __repr__(self) -> str:
        return (
            f"ShardedIndex({len(self)} docs in {self.shards} shards, spec={str(self.spec)!r}, "
            f"encoder={self.encoder.name!r})"
        )

    @property
    def ids(self) -> list[str]:
        """Document ids in insertion order (across shards)."""
        with self._lock:
            pairs = [pair for part in self._shards.each("id_keys") for pair in part]
        return [doc_id for _, doc_id in sorted(pairs)]

    def _get(self, ids: list[str]) -> list[Document]:
        routed = self._route(ids)
        found = {
            d.id: d
            for part in self._shards.some({s: ("get", (i,)) for s, i in routed.items()})
            for d in part
        }
        return [found[i] for i in ids if i in found]

    def _route(self, ids: list[str]) -> dict[int, list[str]]:
        routed: dict[int, list[str]] = defaultdict(list)
        for doc_id in ids:
            routed[shard_of(doc_id, self.shards)].append(doc_id)
        return routed

    # ----------------------------------------------------------------- mutation
    def _delete(self, ids: list[str]) -> int:
        routed = self._route(ids)
        with self._lock:
            removed = sum(self._shards.some({s: ("delete", (i,)) for s, i in routed.items()}))
            self._stats_fresh = self._stats_fresh and removed == 0
        return int(removed)

    def _refuse_taken(self, docs: list[Document]) -> None:
        routed = self._route([d.id for d in docs])
        parts = self._shards.some({s: ("taken", (i,)) for s, i in routed.items()})
        self._refuse([i for part in parts for i in part])

    def _write(
        self, docs: list[Document], vectors: np.ndarray, *, replace: bool, keys: np.ndarray | None
    ) -> None:
        """Send each shard its documents (keys are handed out here, in :meth:`_send`)."""
        owners = np.array([shard_of(d.id, self.shards) for d in docs], dtype=np.int64)
        self._send(docs, vectors, owners, replace=replace)

    def _append_routed(
        self, docs: list[Document], vectors: np.ndarray, owners: np.ndarray, skip: set[int]
    ) -> None:
        """Append a corpus batch already routed (a cluster build); documents of shards in
        ``skip`` (committed earlier) take their keys but are not sent again."""
        with self._lock:
            self._send(docs, vectors, owners, replace=False, skip=skip)

    def _send(
        self,
        docs: list[Document],
        vectors: np.ndarray,
        owners: np.ndarray,
        *,
        replace: bool,
        skip: AbstractSet[int] = frozenset(),
    ) -> None:
        """Every document takes the next key, in order; each shard gets its rows (the
        caller holds the lock)."""
        keys = np.arange(self._next_key, self._next_key + len(docs), dtype=np.int64)
        calls = {}
        for s in sorted(set(owners.tolist()) - skip):
            rows = np.flatnonzero(owners == s)
            calls[s] = ("insert", ([docs[r] for r in rows], vectors[rows], keys[rows], replace))
        self._stats_fresh = False
        self._shards.some(calls)
        self._next_key += len(docs)

    # ----------------------------------------------------------------- search
    def _ranked(self, wanted: hybrid.Wanted) -> list[hybrid.Lists]:
        """Every shard's lists, merged (BM25 with corpus-wide statistics)."""
        with self._lock:
            if wanted.depth is not None:
                self._sync_corpus_stats()
            parts = self._shards.each("lists", wanted)
        return _merged(parts, wanted.n, wanted.k, wanted.depth, dense=wanted.vectors is not None)

    def _sync_corpus_stats(self) -> None:
        """Give every shard the whole corpus' BM25 statistics (only after a change)."""
        if self._stats_fresh:
            return
        total = sum(self._shards.each("local_stats"), CorpusStats())
        self._shards.each("use_corpus_stats", total)
        self._stats_fresh = True

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write every shard and a manifest listing them, as one atomic generation."""
        with self._lock:
            return sharded_storage.save(self, Path(path))

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        encoder: Encoder | str | os.PathLike[str] | None = None,
        *,
        ray: bool | Mapping[str, Any] = False,
        shard_cpus: float = 0.25,
        bm25: Bm25 | None = None,
    ) -> ShardedIndex:
        """Open a saved sharded index (shards on Ray actors with ``ray=True``)."""
        return sharded_storage.load(cls._on, Path(path), encoder, ray, shard_cpus, bm25)

    @classmethod
    def _open_saved(
        cls, path: Path, encoder: Encoder | str | os.PathLike[str] | None, bm25: object
    ) -> ShardedIndex:
        """How :meth:`Index.load <shortlist.index.Index.load>` opens a sharded folder: its
        shards in this process (``ShardedIndex.load(path, ray=True)`` puts them on Ray)."""
        return cls.load(path, encoder, bm25=bm25 if isinstance(bm25, Bm25) else None)

    def close(self) -> None:
        """Release the shards (ends their Ray actors)."""
        self._shards.close()


def _merged(
    parts: list[list[hybrid.Lists]], queries: int, k: int, depth: int | None, *, dense: bool
) -> list[hybrid.Lists]:
    """Per query, the shards' lists merged into one index's lists."""
    out = []
    for q in range(queries):
        lists = [part[q] for part in parts]
        docs: dict[int, Any] = {}
        for one in lists:
            docs.update(one.docs)
        out.append(
            hybrid.Lists(
                hybrid.merge([x.dense for x in lists if x.dense is not None], k) if dense else None,
                hybrid.merge([x.bm25 for x in lists if x.bm25 is not None], depth)
                if depth is not None
                else None,
                docs,
            )
        )
    return out


persist.register_saved_kind(sharded_storage.MANIFEST, ShardedIndex._open_saved)
