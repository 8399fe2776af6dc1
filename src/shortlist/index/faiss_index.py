"""The stage-1 index: a FAISS structure over bi-encoder vectors, beside a document store.

Scores are similarities, higher is better (cosine by default: vectors are L2-normalised
and searched by inner product). Documents, their ids and the int64 keys FAISS sees live
in :class:`~shortlist.index.docstore.DocStore`; the manifest's schema and the atomic
save live in :mod:`shortlist.index.persist`. This module owns the FAISS structure, its
ID selectors and search. Searches and mutations are serialised by a lock; encoding (the
slow part of both) happens outside it, so concurrent queries overlap where it matters.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shortlist._executor import run_blocking
from shortlist._optional import require
from shortlist.documents import Document, Hit, make_documents
from shortlist.encoders import Encoder, l2_normalize, load_encoder
from shortlist.encoders.identity import describe, encoder_for
from shortlist.errors import IndexFormatError, InvalidInputError
from shortlist.index import persist, structure
from shortlist.index.docstore import DocStore
from shortlist.index.filters import Filter, compile_filter
from shortlist.index.specs import IndexSpec, parse_spec

_EXACT_FALLBACK = 4096  # filters matching at most this many docs are scored exactly


def _faiss() -> Any:
    return require("faiss", feature="The FAISS index")


class Index:
    """A searchable, updatable, persistable collection of embedded documents.

    Build one with :meth:`build` (or create an empty one and :meth:`add`), query it with
    :meth:`search`, persist it with :meth:`save` / :meth:`load`.

    Args:
        encoder: an :class:`~shortlist.encoders.Encoder`, or a model name/path for a
            sentence-transformers bi-encoder (default ``all-MiniLM-L6-v2``).
        spec: index structure, see :mod:`shortlist.index.specs` (``flat``, ``hnsw``,
            ``ivfpq``, ``faiss:...``).
        metric: ``"cosine"`` (vectors normalised; default) or ``"ip"`` (raw inner product).
    """

    def __init__(
        self,
        encoder: Encoder | str | os.PathLike[str] | None = None,
        *,
        spec: str | IndexSpec | None = None,
        metric: str = "cosine",
        batch_size: int = 32,
    ) -> None:
        if metric not in ("cosine", "ip"):
            raise InvalidInputError(f"metric must be 'cosine' or 'ip', got {metric!r}.")
        self.encoder: Encoder = load_encoder(encoder)
        self.spec = parse_spec(spec)
        self.metric = metric
        self.batch_size = batch_size
        self._faiss_index: Any = None  # created lazily: IVF sizes depend on the first batch
        self._factory: str | None = None
        self._store = DocStore()
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- construction
    @classmethod
    def build(
        cls,
        documents: Iterable[str | Document],
        encoder: Encoder | str | os.PathLike[str] | None = None,
        *,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        spec: str | IndexSpec | None = None,
        metric: str = "cosine",
        batch_size: int = 32,
        show_progress: bool | None = None,
    ) -> Index:
        """Embed ``documents`` and return a ready index (progress bar on for >= 1000 docs)."""
        index = cls(encoder, spec=spec, metric=metric, batch_size=batch_size)
        index.add(documents, metadatas=metadatas, ids=ids, show_progress=show_progress)
        return index

    # ----------------------------------------------------------------- properties
    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._store

    def __repr__(self) -> str:
        return f"Index({len(self)} docs, spec={str(self.spec)!r}, encoder={self.encoder.name!r})"

    @property
    def dim(self) -> int:
        """Vector dimension (the encoder's)."""
        return int(self.encoder.dim)

    @property
    def ids(self) -> list[str]:
        """Document ids in insertion order."""
        with self._lock:
            return self._store.ids

    def get(self, ids: Sequence[str]) -> list[Document]:
        """The documents with these ids, in the given order; unknown ids are skipped."""
        if isinstance(ids, str):
            raise InvalidInputError(f"get() takes a list of ids, not a single string: [{ids!r}].")
        with self._lock:
            return self._store.get(ids)

    # ----------------------------------------------------------------- mutation
    def add(
        self,
        documents: Iterable[str | Document],
        *,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        embeddings: np.ndarray | None = None,
        show_progress: bool | None = None,
    ) -> list[str]:
        """Add new documents; an id that already exists is an error (use :meth:`upsert`)."""
        docs = make_documents(documents, metadatas, ids)
        with self._lock:  # fail before the slow encoding; checked again when inserting
            self._refuse_taken(docs)
        return self._insert(docs, embeddings, show_progress, replace=False)

    def upsert(
        self,
        documents: Iterable[str | Document],
        *,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        embeddings: np.ndarray | None = None,
        show_progress: bool | None = None,
    ) -> list[str]:
        """Add documents, replacing any existing document with the same id."""
        docs = make_documents(documents, metadatas, ids)
        return self._insert(docs, embeddings, show_progress, replace=True)

    def delete(self, ids: Iterable[str]) -> int:
        """Remove documents by id; unknown ids are ignored. Returns how many were removed."""
        if isinstance(ids, str):
            raise InvalidInputError("delete() takes a list of ids, not a single string.")
        with self._lock:
            return self._remove(self._store.keys_of(ids))

    def _insert(
        self,
        docs: list[Document],
        embeddings: np.ndarray | None,
        show: bool | None,
        *,
        replace: bool,
    ) -> list[str]:
        if not docs:
            return []
        vectors = self._embed(docs, embeddings, show)  # outside the lock: the slow part
        with self._lock:
            if replace:
                self._remove(self._store.keys_of(d.id for d in docs))
            else:  # another thread may have added one of these ids while we encoded
                self._refuse_taken(docs)
            self._ensure_index(vectors)
            keys = np.arange(self._store.next_key, self._store.next_key + len(docs), dtype=np.int64)
            self._faiss_index.add_with_ids(vectors, keys)
            self._store.assign(docs)
        return [d.id for d in docs]

    def _refuse_taken(self, docs: list[Document]) -> None:
        taken = self._store.taken(docs)
        if taken:
            raise InvalidInputError(
                f"{len(taken)} id(s) already in the index, e.g. {taken[:3]}; use upsert() to "
                "replace documents."
            )

    def _remove(self, keys: list[int]) -> int:
        if not keys:
            return 0
        if self._supports_remove():
            self._faiss_index.remove_ids(np.asarray(keys, dtype=np.int64))
        else:
            self._store.tombstones.update(keys)
        return self._store.remove(keys)

    def _embed(
        self, docs: list[Document], embeddings: np.ndarray | None, show: bool | None
    ) -> np.ndarray:
        if embeddings is None:
            show = len(docs) >= 1000 if show is None else show
            vectors = self.encoder.encode_documents(
                [d.text for d in docs], batch_size=self.batch_size, show_progress=show
            )
        else:
            vectors = np.asarray(embeddings, dtype=np.float32)
        if vectors.shape != (len(docs), self.dim):
            raise InvalidInputError(
                f"Expected embeddings of shape ({len(docs)}, {self.dim}), got {vectors.shape}."
            )
        if not np.all(np.isfinite(vectors)):
            raise InvalidInputError("Embeddings contain NaN or infinity.")
        return self._prepare(vectors)

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        return l2_normalize(vectors) if self.metric == "cosine" else vectors

    def _ensure_index(self, first_batch: np.ndarray) -> None:
        if self._faiss_index is None:
            self._faiss_index, self._factory = structure.create(self.spec, self.dim, first_batch)

    def _supports_remove(self) -> bool:
        return "HNSW" not in (self._factory or "")

    # ----------------------------------------------------------------- search
    def search(self, query: str, k: int = 10, *, filter: Filter | None = None) -> list[Hit]:
        """The ``k`` most similar documents to ``query``, best first."""
        return self.search_batch([query], k, filter=filter)[0]

    async def asearch(self, query: str, k: int = 10, *, filter: Filter | None = None) -> list[Hit]:
        """Async :meth:`search`; the encoding and FAISS work run off the event loop."""
        return await run_blocking(self.search, query, k, filter=filter)

    def search_batch(
        self, queries: Sequence[str], k: int = 10, *, filter: Filter | None = None
    ) -> list[list[Hit]]:
        """Search several queries at once (one batched encoder call)."""
        if isinstance(queries, str):
            raise InvalidInputError("search_batch() takes a list of queries.")
        for q in queries:
            if not isinstance(q, str) or not q.strip():
                raise InvalidInputError("Each query must be a non-empty string.")
        _check_k(k)
        if not queries:
            return []
        vectors = self.encoder.encode_queries(list(queries))
        return self.search_vectors(vectors, k, filter=filter)

    def search_vectors(
        self, vectors: np.ndarray, k: int = 10, *, filter: Filter | None = None
    ) -> list[list[Hit]]:
        """Search with precomputed query vectors, shape ``(n, dim)``."""
        _check_k(k)
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if vectors.shape[1] != self.dim:
            raise InvalidInputError(
                f"Query vectors have dim {vectors.shape[1]}, index has {self.dim}."
            )
        vectors = self._prepare(vectors)
        predicate = compile_filter(filter) if filter is not None else None
        with self._lock:
            if self._faiss_index is None or not self._store:
                return [[] for _ in range(len(vectors))]
            allowed = self._store.matching(predicate) if predicate is not None else None
            scores, keys = self._search_keys(vectors, k, allowed)
            return [self._hits(s, kk) for s, kk in zip(scores, keys, strict=True)]

    def _search_keys(
        self, vectors: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        if allowed is not None:
            if len(allowed) == 0:
                return np.zeros((len(vectors), 0)), np.zeros((len(vectors), 0), dtype=np.int64)
            if self._is_approximate() and len(allowed) <= _EXACT_FALLBACK:
                return self._exact(vectors, k, allowed)
        k_eff = min(k, len(self._store))
        with structure.selector(faiss, allowed, self._store.tombstones) as sel:
            params = structure.search_params(faiss, self.spec, k_eff, sel)
            with structure.omp_threads(faiss, 1 if len(vectors) == 1 else None):
                scores, keys = self._faiss_index.search(vectors, k_eff, params=params)
        if allowed is not None and self._is_approximate() and (keys < 0).any():
            return self._exact(vectors, k, allowed)  # approximate search starved by the filter
        return scores, keys

    def _is_approximate(self) -> bool:
        return (self._factory or "Flat") != "Flat"

    def _exact(
        self, vectors: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Brute-force scoring of a small allowed set: filters never cost recall."""
        stored = self._faiss_index.reconstruct_batch(allowed)
        sims = vectors @ stored.T
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(sims, top, axis=1), allowed[top]

    def _hits(self, scores: np.ndarray, keys: np.ndarray) -> list[Hit]:
        hits: list[Hit] = []
        for score, key in zip(scores.tolist(), keys.tolist(), strict=True):
            doc = self._store.document(key) if key >= 0 else None
            if doc is None:
                continue
            rank = len(hits) + 1
            hits.append(
                Hit(doc, float(score), rank, retrieval_score=float(score), retrieval_rank=rank)
            )
        return hits

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index to a directory atomically (no pickle); returns the path."""
        faiss = _faiss()
        directory = Path(path)
        with self._lock:
            self._compact()
            rows = list(self._store.rows())
            manifest = persist.manifest(
                encoder=describe(self.encoder),
                metric=self.metric,
                spec=str(self.spec),
                factory=self._factory,
                count=len(rows),
                next_key=self._store.next_key,
            )
            index = self._faiss_index

            def write(folder: Path) -> None:
                persist.write_documents(folder / persist.DOCS_FILE, rows)
                if index is not None:
                    faiss.write_index(index, str(folder / persist.FAISS_FILE))
                else:
                    (folder / persist.FAISS_FILE).write_bytes(b"")

            persist.commit(directory, manifest, write)
        return directory

    def _compact(self) -> None:
        """Rebuild an HNSW graph without its tombstoned vectors."""
        if not self._store.tombstones:
            return
        keys = self._store.keys()
        vectors = self._faiss_index.reconstruct_batch(keys) if len(keys) else None
        self._faiss_index, self._store.tombstones = None, set()
        if vectors is not None:
            self._ensure_index(vectors)
            self._faiss_index.add_with_ids(vectors, keys)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], encoder: Encoder | str | os.PathLike[str] | None = None
    ) -> Index:
        """Open a saved index; ``encoder`` defaults to the model recorded in its manifest.

        The model is found by its name and fingerprint, not by the folder it was built
        from, so a copied index folder loads on another machine (see
        :mod:`shortlist.encoders.identity`). Raises :class:`EncoderMismatchError` when the
        given encoder is another model or has another dimension.
        """
        directory = Path(path)
        with persist.reading(directory) as (manifest, folder):
            store = DocStore.from_rows(
                persist.read_documents(folder / persist.DOCS_FILE),
                manifest["next_key"],
                str(directory),
            )
            stored = None
            if manifest["factory"] is not None:
                stored = _faiss().read_index(str(folder / persist.FAISS_FILE))
        if len(store) != manifest["count"]:
            raise IndexFormatError(f"{directory}: document count does not match the manifest.")
        if stored is not None and stored.ntotal != len(store):
            raise IndexFormatError(
                f"{directory}: FAISS holds {stored.ntotal} vectors but there are "
                f"{len(store)} documents; the index is inconsistent."
            )
        enc = encoder_for(manifest["encoder"], directory, encoder)
        index = cls(enc, spec=manifest["spec"], metric=manifest["metric"])
        index._factory, index._store, index._faiss_index = manifest["factory"], store, stored
        return index

    @staticmethod
    def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
        """The verified manifest of a saved index (model, dimension, counts...)."""
        manifest, _ = persist.open_manifest(Path(path))
        copy: dict[str, Any] = json.loads(json.dumps(manifest))
        return copy


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}.")
