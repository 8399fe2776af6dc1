"""What every stage-1 index offers, so the funnel and both framework adapters take one
index or a sharded one unchanged (:class:`~shortlist.index.Index`,
:class:`~shortlist.index.ShardedIndex`).

Every public entry point is written once here (:class:`BaseIndex` is a template); an
index kind supplies its storage and stage 1 before fusion.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from shortlist._executor import offloaded
from shortlist._validate import check_ids, check_keywords, float_array, positive_int
from shortlist.documents import clean_text, make_documents
from shortlist.encoders import load_encoder
from shortlist.errors import InvalidInputError
from shortlist.index.filters import Filter, compile_filter
from shortlist.index.hybrid import (
    Lists,
    Mode,
    Wanted,
    assemble,
    check_mode,
    default_mode,
    hybrid_fusion,
)
from shortlist.index.lexical import Bm25
from shortlist.index.specs import IndexSpec, parse_spec
from shortlist.rerank.fusion import Fusion

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing's own from Python 3.11

    from shortlist.documents import Document, Hit
    from shortlist.encoders import Encoder


@dataclass(frozen=True)
class SearchPlan:
    """A validated search: cleaned queries, mode, hybrid weight, and how deep BM25 goes
    (``None`` when it does not run)."""

    queries: list[str]
    k: int
    mode: Mode
    hybrid: Fusion
    depth: int | None


class QueryOptions(TypedDict, total=False):
    """The options of :meth:`BaseIndex.search` and :meth:`BaseIndex.search_batch`."""

    filter: Filter | None
    mode: str | None
    alpha: float | None
    sparse_k: int | None
    hybrid: Fusion | str | None


class WriteOptions(TypedDict, total=False):
    """The options of :meth:`BaseIndex.add` and :meth:`BaseIndex.upsert`."""

    metadatas: Sequence[Mapping[str, Any] | None] | None
    ids: Sequence[str | None] | None
    embeddings: np.ndarray | None
    show_progress: bool | None


class IndexSettings(TypedDict, total=False):
    """How an index is configured (the keyword arguments of :class:`~shortlist.Index`,
    ``Index.build`` and :class:`~shortlist.index.ShardedIndex`; their class docstrings say
    what each does). Written once here, checked once in ``BaseIndex._configure``."""

    spec: str | IndexSpec | None
    metric: str
    batch_size: int
    bm25: bool | Bm25
    mode: str | None
    alpha: float | None
    rrf_k: float | None
    hybrid: Fusion | str | None


class BaseIndex(ABC):
    """A searchable, updatable, persistable collection of embedded documents.

    A template: argument checks, search planning, fusion and the public ``add``/``get``/
    ``delete``/``search*`` entry points are written here once; an index kind supplies
    storage (``_insert``, ``_get``, ``_delete``) and stage 1 before fusion (``_ranked``).
    """

    encoder: Encoder
    spec: IndexSpec
    metric: str
    batch_size: int
    _mode: Mode | None  # None: the funnel's (hybrid where there is BM25, else dense)
    hybrid: Fusion
    """How hybrid search fuses dense and BM25 unless a call says otherwise."""
    _lock: Any  # a re-entrant lock around the index's state
    bm25: Bm25 | None
    """The BM25 options (``None``: vectors only, so ``mode="bm25"``/``"hybrid"`` fail)."""

    def _configure(
        self,
        encoder: Encoder | str | os.PathLike[str] | None,
        *,
        spec: str | IndexSpec | None = None,
        metric: str = "cosine",
        batch_size: int = 32,
        bm25: bool | Bm25 | None = True,
        mode: str | None = None,
        alpha: float | None = None,
        rrf_k: float | None = None,
        hybrid: Fusion | str | None = None,
    ) -> None:
        """Check and set what every kind of index is configured with; the model loads
        last, once every cheap argument has passed. ``None`` stage-1 settings mean the
        funnel's."""
        if metric not in ("cosine", "ip"):
            raise InvalidInputError(f"metric must be 'cosine' or 'ip', got {metric!r}.")
        # a batch size the encoder cannot use fails here, not as a range() error or (-1)
        # as a silently wrong slice of the corpus
        self.batch_size = positive_int("batch_size", batch_size)
        self.bm25 = bm25 if isinstance(bm25, Bm25) else (Bm25() if bm25 else None)
        self._mode = None if mode is None else check_mode(mode)
        if self._mode is not None:
            self._check_lexical(self._mode)
        self.hybrid = hybrid_fusion(hybrid, alpha, rrf_k)
        self._own_hybrid = any(v is not None for v in (hybrid, alpha, rrf_k))
        self.spec = parse_spec(spec)
        self.metric = metric
        self._lock = threading.RLock()
        self.encoder = load_encoder(encoder)

    @property
    def mode(self) -> Mode:
        """What :meth:`search` does unless told otherwise: the mode the index was given, else
        the funnel's (hybrid where the index has BM25, dense where it has not)."""
        return self._mode if self._mode is not None else default_mode(self.bm25 is not None)

    @property
    def alpha(self) -> float | None:
        """The hybrid dense weight (LlamaIndex's ``alpha``); ``None`` when hybrid is RRF."""
        return self.hybrid.mix_weight

    @property
    def rrf_k(self) -> float:
        """RRF's k (used when :attr:`hybrid` is rank fusion)."""
        return self.hybrid.k

    def stage1_manifest(self) -> dict[str, Any]:
        """What a saved index records of its stage-1 settings: only those it was given, so
        an index that took the funnel's defaults follows them when they change."""
        return {"mode": self._mode, "hybrid": str(self.hybrid) if self._own_hybrid else None}

    @property
    def dim(self) -> int:
        """Vector dimension (the encoder's)."""
        return int(self.encoder.dim)

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __contains__(self, doc_id: object) -> bool: ...

    @property
    @abstractmethod
    def ids(self) -> list[str]:
        """Document ids in insertion order."""

    # ----------------------------------------------------------------- documents
    def get(self, ids: Sequence[str]) -> list[Document]:
        """The documents with these ids, in the given order; unknown ids are skipped."""
        return self._get(check_ids(ids, "get"))

    def delete(self, ids: Iterable[str]) -> int:
        """Remove documents by id; unknown ids are ignored. Returns how many were removed."""
        return self._delete(check_ids(ids, "delete"))

    def add(
        self, documents: Iterable[str | Document], **options: Unpack[WriteOptions]
    ) -> list[str]:
        """Add new documents; an id that already exists is an error (use :meth:`upsert`).

        ``documents`` are texts or :class:`~shortlist.Document` objects; ``options``:
        ``metadatas`` and ``ids`` (one per text), ``embeddings`` (precomputed vectors, the
        encoder is not called) and ``show_progress``.
        """
        return self._write_documents(documents, replace=False, **options)

    def upsert(
        self, documents: Iterable[str | Document], **options: Unpack[WriteOptions]
    ) -> list[str]:
        """Add documents, replacing any existing document with the same id (options as
        :meth:`add`)."""
        return self._write_documents(documents, replace=True, **options)

    def _write_documents(
        self,
        documents: Iterable[str | Document],
        *,
        replace: bool,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str | None] | None = None,
        embeddings: np.ndarray | None = None,
        show_progress: bool | None = None,
    ) -> list[str]:
        docs = make_documents(documents, metadatas, ids)
        if not replace:
            with self._lock:  # fail before the slow encoding; checked again when inserting
                self._refuse_taken(docs)
        return self._insert(docs, embeddings, show_progress, replace=replace)

    @abstractmethod
    def _get(self, ids: list[str]) -> list[Document]:
        """:meth:`get` of checked ids."""

    @abstractmethod
    def _delete(self, ids: list[str]) -> int:
        """:meth:`delete` of checked ids."""

    @abstractmethod
    def _refuse_taken(self, docs: list[Document]) -> None:
        """Raise if any of ``docs``' ids is already stored."""

    def _insert(
        self,
        docs: list[Document],
        embeddings: np.ndarray | None,
        show: bool | None,
        *,
        replace: bool,
        keys: np.ndarray | None = None,
    ) -> list[str]:
        """Embed (outside the lock: the slow part) and store ``docs``, replacing same ids if
        ``replace``; ``keys`` are handed to a shard by its sharded index."""
        if not docs:
            return []
        vectors = self._prepare(self._document_vectors(docs, embeddings, show))
        with self._lock:
            if not replace:  # another thread may have added one of these ids while we encoded
                self._refuse_taken(docs)
            self._write(docs, vectors, replace=replace, keys=keys)
        return [d.id for d in docs]

    @abstractmethod
    def _write(
        self, docs: list[Document], vectors: np.ndarray, *, replace: bool, keys: np.ndarray | None
    ) -> None:
        """Store checked documents and vectors (the caller holds the lock)."""

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors as this index stores and searches them (an ``Index`` normalises)."""
        return vectors

    def _refuse(self, taken: list[str]) -> None:
        if taken:
            raise InvalidInputError(
                f"{len(taken)} id(s) already in the index, e.g. {taken[:3]}; use upsert() to "
                "replace documents."
            )

    # ----------------------------------------------------------------- search
    def search_batch(
        self, queries: Sequence[str], k: int = 10, **options: Unpack[QueryOptions]
    ) -> list[list[Hit]]:
        """Search several queries at once (one batched encoder call); options as
        :meth:`search`."""
        check_keywords("search_batch", options, QueryOptions.__annotations__)
        o = options  # every option defaults to None: the index's own
        plan = self._plan(
            queries, k, o.get("mode"), o.get("alpha"), o.get("sparse_k"), o.get("hybrid")
        )
        filter = o.get("filter")
        if filter is not None:
            compile_filter(filter)  # a bad filter fails here, once, before any encoding
        if not plan.queries:
            return []
        vectors = None
        if plan.mode != "bm25":  # checked once here; every index kind (and shard) trusts it
            vectors = self.query_vectors(self.encoder.encode_queries(plan.queries))
        found = self._ranked(Wanted(plan.queries, vectors, plan.k, plan.depth, filter))
        return [assemble(lists, plan.mode, plan.k, fusion=plan.hybrid) for lists in found]

    def search_vectors(
        self, vectors: np.ndarray, k: int = 10, *, filter: Filter | None = None
    ) -> list[list[Hit]]:
        """Search with precomputed query vectors, shape ``(n, dim)`` (or one ``(dim,)``)."""
        k = positive_int("k", k)
        checked = self.query_vectors(vectors)
        if filter is not None:
            compile_filter(filter)
        return [
            assemble(lists, "dense", k)
            for lists in self._ranked(Wanted([], checked, k, None, filter))
        ]

    @abstractmethod
    def _ranked(self, wanted: Wanted) -> list[Lists]:
        """Stage 1 before fusion: what ``wanted`` asks for, with the documents named."""

    @abstractmethod
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index to a directory atomically (no pickle); returns the path."""

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        filter: Filter | None = None,
        mode: str | None = None,
        alpha: float | None = None,
        sparse_k: int | None = None,
        hybrid: Fusion | str | None = None,
    ) -> list[Hit]:
        """The ``k`` best documents for ``query``, best first.

        By default the funnel's stage 1 (:data:`shortlist.funnel.DEFAULT`: hybrid where the
        index has BM25, weighted with the dense weight 0.7), or what the index was built
        with. ``mode`` (``"dense"``, ``"bm25"``, ``"hybrid"``) and the hybrid fusion --
        ``alpha`` (dense weight, LlamaIndex's convention) or ``hybrid`` (a spec,
        ``"weighted:w=0.5"`` or ``"rrf:k=60"``) -- override it for this call; ``sparse_k``
        is how many BM25 results enter the hybrid fusion (default ``k``, as dense).
        """
        options = QueryOptions(
            filter=filter, mode=mode, alpha=alpha, sparse_k=sparse_k, hybrid=hybrid
        )
        return self.search_batch([query], k, **options)[0]

    asearch = offloaded(search)

    # ----------------------------------------------------------------- shared checks
    def _document_vectors(
        self, docs: list[Document], embeddings: np.ndarray | None, show: bool | None
    ) -> np.ndarray:
        """The documents' vectors, as given or encoded (progress bar for >= 1000), checked."""
        if embeddings is None:
            show = len(docs) >= 1000 if show is None else show
            vectors = self.encoder.encode_documents(
                [d.text for d in docs], batch_size=self.batch_size, show_progress=show
            )
        else:
            vectors = float_array(embeddings, "embeddings", self.dim)
        if vectors.shape != (len(docs), self.dim):
            raise InvalidInputError(
                f"Expected embeddings of shape ({len(docs)}, {self.dim}), got {vectors.shape}."
            )
        if not np.all(np.isfinite(vectors)):
            raise InvalidInputError("Embeddings contain NaN or infinity.")
        return vectors

    def query_vectors(self, vectors: object) -> np.ndarray:
        """Query vectors as a float32 ``(n, dim)`` array, or an error that names the fix."""
        array = float_array(vectors, "Query vectors", self.dim)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2:
            raise InvalidInputError(
                f"Query vectors must be one vector (dim,) or a 2-D array (n, dim), got shape "
                f"{array.shape}; stack the queries into one 2-D array (e.g. np.vstack)."
            )
        if not np.all(np.isfinite(array)):
            raise InvalidInputError("Query vectors contain NaN or infinity; check the encoder.")
        if array.shape[1] != self.dim:
            raise InvalidInputError(
                f"Query vectors have dim {array.shape[1]}, index has {self.dim}."
            )
        return array

    def _plan(
        self,
        queries: Sequence[str],
        k: int,
        mode: str | None,
        alpha: float | None,
        sparse_k: int | None,
        hybrid: Fusion | str | None = None,
    ) -> SearchPlan:
        """Validate a search's arguments, in one place for every kind of index."""
        if isinstance(queries, str):
            raise InvalidInputError("search_batch() takes a list of queries.")
        for q in queries:
            if not isinstance(q, str) or not q.strip():
                raise InvalidInputError("Each query must be a non-empty string.")
        k = positive_int("k", k)
        chosen = check_mode(mode if mode is not None else self.mode)
        self._check_lexical(chosen)
        fusion = hybrid_fusion(hybrid, alpha, None, default=self.hybrid)
        depth = k if sparse_k is None else positive_int("sparse_k", sparse_k)
        cleaned = [clean_text(q) for q in queries]
        return SearchPlan(cleaned, k, chosen, fusion, None if chosen == "dense" else depth)

    def _check_lexical(self, mode: str) -> None:
        if mode != "dense" and self.bm25 is None:
            raise InvalidInputError(
                f"mode={mode!r} needs BM25, and this index has none (built with bm25=False, or "
                "saved before shortlist 0.2). Call index.enable_bm25() (then save), or use "
                "mode='dense'."
            )
