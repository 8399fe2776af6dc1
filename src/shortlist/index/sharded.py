"""An index split into shards by document id, searched as one.

Each shard is an ordinary :class:`~shortlist.index.Index` (:mod:`.shard`), in this process
or on a Ray actor (:mod:`shortlist.scale.actors`). A query is encoded once, sent to every
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
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shortlist.documents import Document, Hit
from shortlist.encoders import Encoder, load_encoder
from shortlist.encoders.identity import describe
from shortlist.errors import InvalidInputError
from shortlist.index import hybrid
from shortlist.index.base import BaseIndex, check_ids, check_k
from shortlist.index.filters import Filter, compile_filter
from shortlist.index.lexical import Bm25, CorpusStats
from shortlist.index.shard import ShardWorker, shard_of
from shortlist.index.specs import IndexSpec, parse_spec
from shortlist.rerank.fusion import Fusion

if TYPE_CHECKING:
    from shortlist.scale.actors import Shards


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
        spec: str | IndexSpec | None = None,
        metric: str = "cosine",
        batch_size: int = 32,
        bm25: bool | Bm25 = True,
        mode: str | None = None,
        alpha: float | None = None,
        rrf_k: float | None = None,
        hybrid: Fusion | str | None = None,
        ray: bool | Mapping[str, Any] = False,
        shard_cpus: float = 0.25,
    ) -> None:
        if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
            raise InvalidInputError(f"shards must be a positive integer, got {shards!r}.")
        self._init_state(
            load_encoder(encoder),
            spec=spec,
            metric=metric,
            bm25=bm25 if isinstance(bm25, Bm25) else (Bm25() if bm25 else None),
            mode=mode,
            alpha=alpha,
            rrf_k=rrf_k,
            hybrid=hybrid,
            batch_size=batch_size,
        )
        self._shards = _start(self._worker_options(), [None] * shards, ray, shard_cpus)

    def _init_state(
        self,
        encoder: Encoder,
        *,
        spec: str | IndexSpec | None,
        metric: str,
        bm25: Bm25 | None,
        mode: str | None,
        alpha: float | None,
        rrf_k: float | None,
        hybrid: Fusion | str | None = None,
        batch_size: int = 32,
    ) -> None:
        """Everything but the shards (which a load starts on their saved folders)."""
        if metric not in ("cosine", "ip"):
            raise InvalidInputError(f"metric must be 'cosine' or 'ip', got {metric!r}.")
        self.bm25 = bm25
        self._init_stage1(mode, alpha, rrf_k, hybrid)
        self.encoder = encoder
        self.spec = parse_spec(spec)
        self.metric = metric
        self.batch_size = batch_size
        self._lock = threading.RLock()
        self._next_key = 0
        self._stats_fresh = True  # BM25 statistics match the corpus (nothing to push)

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
        index._shards = _start(index._worker_options(), paths, ray, shard_cpus)
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

    def get(self, ids: Sequence[str]) -> list[Document]:
        if isinstance(ids, str):
            raise InvalidInputError(f"get() takes a list of ids, not a single string: [{ids!r}].")
        routed = self._route(list(ids))
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
    def delete(self, ids: Iterable[str]) -> int:
        routed = self._route(check_ids(ids))
        with self._lock:
            removed = sum(self._shards.some({s: ("delete", (i,)) for s, i in routed.items()}))
            self._stats_fresh = self._stats_fresh and removed == 0
        return int(removed)

    def _refuse_taken(self, docs: list[Document]) -> None:
        routed = self._route([d.id for d in docs])
        taken = [
            i
            for part in self._shards.some({s: ("taken", (i,)) for s, i in routed.items()})
            for i in part
        ]
        if taken:
            raise InvalidInputError(
                f"{len(taken)} id(s) already in the index, e.g. {taken[:3]}; use upsert() to "
                "replace documents."
            )

    def _insert(
        self,
        docs: list[Document],
        embeddings: np.ndarray | None,
        show: bool | None,
        *,
        replace: bool,
    ) -> list[str]:
        """Embed here (outside the lock), then send each shard its documents and keys."""
        if not docs:
            return []
        vectors = self._document_vectors(docs, embeddings, show)
        owners = np.array([shard_of(d.id, self.shards) for d in docs], dtype=np.int64)
        with self._lock:
            if not replace:
                self._refuse_taken(docs)
            self._send(docs, vectors, owners, replace=replace)
        return [d.id for d in docs]

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
    def search_batch(
        self,
        queries: Sequence[str],
        k: int = 10,
        *,
        filter: Filter | None = None,
        mode: str | None = None,
        alpha: float | None = None,
        sparse_k: int | None = None,
        hybrid: Fusion | str | None = None,
    ) -> list[list[Hit]]:
        plan = self._plan(queries, k, mode, alpha, sparse_k, hybrid)
        if not plan.queries:
            return []
        if filter is not None:
            compile_filter(filter)  # a bad filter fails here, once, not on every shard
        vectors = self._encode(plan)
        with self._lock:
            if plan.depth is not None:
                self._sync_corpus_stats()
            parts = self._shards.each("lists", plan.queries, vectors, k, plan.depth, filter)
        merged = _merged(parts, len(plan.queries), k, plan.depth, dense=vectors is not None)
        return [self._assemble(lists, plan) for lists in merged]

    def search_vectors(
        self, vectors: np.ndarray, k: int = 10, *, filter: Filter | None = None
    ) -> list[list[Hit]]:
        check_k(k)
        if filter is not None:
            compile_filter(filter)
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        with self._lock:
            parts = self._shards.each("lists", [], vectors, k, None, filter)
        merged = _merged(parts, len(vectors), k, None, dense=True)
        return [hybrid.assemble(m, "dense", k) for m in merged]

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
        from shortlist.index import sharded_storage

        with self._lock:
            if self.bm25 is not None:
                self._sync_corpus_stats()  # saved BM25 files score with corpus-wide statistics
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
        from shortlist.index import sharded_storage

        return sharded_storage.load(cls, Path(path), encoder, ray, shard_cpus, bm25)

    def close(self) -> None:
        """Release the shards (ends their Ray actors)."""
        self._shards.close()


def _start(
    options: dict[str, Any], paths: list[str | None], ray: bool | Mapping[str, Any], cpus: float
) -> Shards:
    from shortlist.scale.actors import LocalShards, RayShards

    if ray is not False:
        return RayShards(options, paths, cpus, {} if ray is True else dict(ray))
    return LocalShards([ShardWorker(**options, path=p) for p in paths])


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
