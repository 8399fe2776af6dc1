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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shortlist._optional import require
from shortlist.documents import Document
from shortlist.encoders import Encoder
from shortlist.encoders.base import l2_normalize
from shortlist.index import hybrid, persist, structure
from shortlist.index.base import BaseIndex, IndexSettings
from shortlist.index.docstore import DocStore
from shortlist.index.filters import compile_filter
from shortlist.index.lexical import Bm25
from shortlist.index.specs import IndexSpec

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing's own from Python 3.11

_EXACT_FALLBACK = 4096  # approximate structures score filtered sets this small exactly


def _faiss() -> Any:
    return require("faiss", feature="The FAISS index")


class Index(BaseIndex):
    """A searchable, updatable, persistable collection of embedded documents.

    Build one with :meth:`build` (or create an empty one and :meth:`add`), query it with
    :meth:`search`, persist it with :meth:`save` / :meth:`load`.

    Args:
        encoder: an :class:`~shortlist.encoders.Encoder`, or a model name/path for a
            sentence-transformers bi-encoder (default ``all-MiniLM-L6-v2``).
        spec: index structure, see :mod:`shortlist.index.specs` (``flat``, ``hnsw``,
            ``ivfpq``, ``faiss:...``).
        metric: ``"cosine"`` (vectors normalised; default) or ``"ip"`` (raw inner product).
        bm25: keep a BM25 index of the same documents (default; a :class:`Bm25` sets its
            options), needed for ``mode="bm25"`` and ``"hybrid"``; ``False``: vectors only.
        mode: what :meth:`search` does by default; ``None`` (the default) is the funnel's
            (:data:`shortlist.funnel.DEFAULT`): ``"hybrid"`` where the index has BM25,
            ``"dense"`` where it has not; every search can override it.
        alpha, rrf_k, hybrid: how hybrid search fuses, one of them at most: ``alpha`` a
            dense weight (1 = dense only, 0 = BM25 only) for a mix of min-max-normalised
            scores, ``rrf_k`` reciprocal rank fusion, ``hybrid`` either as a spec
            (``"weighted:w=0.7"``, ``"rrf:k=60"``). None of them: the funnel's
            (:data:`shortlist.defaults.HYBRID`).
    """

    def __init__(
        self,
        encoder: Encoder | str | os.PathLike[str] | None = None,
        **settings: Unpack[IndexSettings],
    ) -> None:
        self._configure(encoder, **settings)
        self._faiss_index: Any = None  # created lazily: IVF sizes depend on the first batch
        self._factory: str | None = None
        self._store = DocStore()

    # ----------------------------------------------------------------- construction
    @classmethod
    def build(
        cls,
        documents: Iterable[str | Document],
        encoder: Encoder | str | os.PathLike[str] | None = None,
        *,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        show_progress: bool | None = None,
        **settings: Unpack[IndexSettings],
    ) -> Index:
        """Embed ``documents`` and return a ready index (progress bar on for >= 1000 docs);
        ``settings`` are the constructor's."""
        index = cls(encoder, **settings)
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
    def ids(self) -> list[str]:
        """Document ids in insertion order."""
        with self._lock:
            return self._store.ids

    def _get(self, ids: list[str]) -> list[Document]:
        with self._lock:
            return self._store.get(ids)

    # ----------------------------------------------------------------- mutation
    def _delete(self, ids: list[str]) -> int:
        with self._lock:
            return self._remove(self._store.keys_of(ids))

    def _write(
        self, docs: list[Document], vectors: np.ndarray, *, replace: bool, keys: np.ndarray | None
    ) -> None:
        if replace:
            self._remove(self._store.keys_of(d.id for d in docs))
        self._ensure_index(vectors)
        keys = self._store.fresh_keys(len(docs)) if keys is None else keys
        self._faiss_index.add_with_ids(vectors, keys)
        self._store.assign(docs, keys)
        if self.bm25 is not None:
            self.bm25.add(keys, [d.text for d in docs])

    def _refuse_taken(self, docs: list[Document]) -> None:
        self._refuse(self._store.taken(docs))

    def _remove(self, keys: list[int]) -> int:
        if not keys:
            return 0
        if self._supports_remove():
            self._faiss_index.remove_ids(np.asarray(keys, dtype=np.int64))
        else:
            self._store.tombstones.update(keys)
        if self.bm25 is not None:
            texts = [d.text for d in self._store.get_by_keys(keys)]
            self.bm25.remove(np.asarray(keys, dtype=np.int64), texts)
        return self._store.remove(keys)

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        return l2_normalize(vectors) if self.metric == "cosine" else vectors

    def _ensure_index(self, batch: np.ndarray, stored: int | None = None) -> None:
        """Create the FAISS structure for the first ``batch``, or move an ``auto`` index's
        flat vectors into a graph when ``batch`` takes it past its threshold (once: the
        graph then takes every later write). ``stored``: vectors already in the store."""
        total = (len(self._store) if stored is None else stored) + len(batch)
        wanted = self.spec.structure(total)
        if self._faiss_index is None:
            self._faiss_index, self._factory = structure.create(wanted, self.dim, batch)
        elif self.spec.kind == "auto" and self._factory == "Flat" and wanted.kind == "hnsw":
            keys = self._store.keys()
            old = self._faiss_index.reconstruct_batch(keys) if len(keys) else batch[:0]
            self._faiss_index, self._factory = structure.create(wanted, self.dim, batch)
            if len(keys):
                self._faiss_index.add_with_ids(old, keys)

    @property
    def _built_spec(self) -> IndexSpec:
        """The spec of the structure this index holds (``auto`` runs as flat or hnsw)."""
        if self.spec.kind != "auto":
            return self.spec
        graph = (self._factory or "").startswith("HNSW")
        return self.spec.structure(self.spec.params["threshold"] if graph else 0)

    def _supports_remove(self) -> bool:
        return "HNSW" not in (self._factory or "")

    # ----------------------------------------------------------------- search
    def _ranked(self, wanted: hybrid.Wanted) -> list[hybrid.Lists]:
        """Both lists order ties by key (older first), so lists from the shards of a
        sharded index merge into exactly this index's lists. Query vectors were checked once
        (:meth:`BaseIndex.query_vectors`) before any index or shard sees them."""
        queries, k, depth, filter = wanted.queries, wanted.k, wanted.depth, wanted.filter
        vectors = None
        if wanted.vectors is not None:
            vectors = self._prepare(wanted.vectors)  # checked by the caller (query_vectors)
        predicate = compile_filter(filter) if filter is not None else None
        n = wanted.n
        with self._lock:
            if not self._store:
                return [hybrid.Lists(None, None, {}) for _ in range(n)]
            allowed = self._store.matching(predicate) if predicate is not None else None
            dense: list[hybrid.Ranked | None] = [None] * n
            if vectors is not None and self._faiss_index is not None:
                scores, keys = self._search_keys(vectors, k, allowed)
                dense = [(kk[kk >= 0], ss[kk >= 0]) for ss, kk in zip(scores, keys, strict=True)]
            out = []
            for i in range(n):
                lexical = None
                if depth is not None:
                    lexical = self.bm25.top(queries[i], depth, allowed)  # type: ignore[union-attr]
                keys_i = [side[0] for side in (dense[i], lexical) if side is not None]
                named = np.unique(np.concatenate(keys_i)).tolist() if keys_i else []
                docs = {key: self._store.document(key) for key in named}
                out.append(hybrid.Lists(dense[i], lexical, docs))
            return out

    def enable_bm25(self, bm25: Bm25 | None = None) -> None:
        """Add a BM25 index over the current documents (e.g. to an index saved without one)."""
        with self._lock:
            self.bm25 = bm25 or Bm25()
            self.bm25.rebuild(self._store)

    def _search_keys(
        self, vectors: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        return structure.search(
            self._faiss_index,
            self._built_spec,
            vectors,
            min(k, len(self._store)),
            allowed=allowed,
            dead=self._store.tombstones,
            exact_below=_EXACT_FALLBACK if (self._factory or "Flat") != "Flat" else 0,
        )

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index to a directory atomically (no pickle); returns the path."""
        from shortlist.index import storage

        return storage.save(self, Path(path))

    def _compact(self) -> None:
        """Rebuild an HNSW graph without its tombstoned vectors, once they are a tenth of
        it (fewer are saved as a list and masked: a rebuild takes minutes at a million)."""
        if len(self._store.tombstones) * 10 < max(len(self._store), 1):
            return
        keys = self._store.keys()
        vectors = self._faiss_index.reconstruct_batch(keys) if len(keys) else None
        self._faiss_index, self._store.tombstones = None, set()
        if vectors is None:
            self._factory = None  # nothing left: the next add builds afresh
        else:
            self._ensure_index(vectors, stored=0)
            self._faiss_index.add_with_ids(vectors, keys)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        encoder: Encoder | str | os.PathLike[str] | None = None,
        *,
        bm25: bool | Bm25 | None = None,
    ) -> BaseIndex:
        """Open a saved index of either kind; ``encoder`` defaults to the model recorded
        in its manifest.

        A folder saved by a :class:`~shortlist.index.ShardedIndex` opens as one, its
        shards in this process (``ShardedIndex.load(path, ray=True)`` puts them on Ray
        actors). The model is found by its name and fingerprint, not by the folder it was
        built from, so a copied index folder loads on another machine (see
        :mod:`shortlist.encoders.identity`). Raises :class:`EncoderMismatchError` when the
        given encoder is another model or has another dimension.

        ``bm25``: ``None`` keeps what was saved; a :class:`Bm25` supplies a custom
        tokenizer (or, for an index saved without BM25, adds one, as ``True`` does).
        """
        other = persist.saved_kind(Path(path))
        if other is not None:
            index: BaseIndex = other(Path(path), encoder, bm25)
            return index
        return cls._load_one(path, encoder, bm25=bm25)

    @classmethod
    def _load_one(cls, path: str | os.PathLike[str], encoder: Any, bm25: Any) -> Index:
        """:meth:`load` of a single index's folder (how a shard opens its own)."""
        from shortlist.index import storage

        return storage.load(cls, Path(path), encoder, bm25)

    @staticmethod
    def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
        """The verified manifest of a saved index (model, dimension, counts...)."""
        manifest, _ = persist.open_manifest(Path(path))
        copy: dict[str, Any] = json.loads(json.dumps(manifest))
        return copy
