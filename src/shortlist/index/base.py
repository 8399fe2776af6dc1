"""What every stage-1 index offers, so the funnel and both framework adapters take one
index or a sharded one unchanged (:class:`~shortlist.index.Index`,
:class:`~shortlist.index.ShardedIndex`).

``search``/``asearch`` are written once here on top of ``search_batch``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shortlist._executor import run_blocking
from shortlist.documents import clean_text, make_documents
from shortlist.errors import InvalidInputError
from shortlist.index.hybrid import Lists, Mode, assemble, check_mode, default_mode, hybrid_fusion
from shortlist.rerank.fusion import Fusion

if TYPE_CHECKING:
    from shortlist.documents import Document, Hit
    from shortlist.encoders import Encoder
    from shortlist.index.filters import Filter
    from shortlist.index.lexical import Bm25
    from shortlist.index.specs import IndexSpec


@dataclass(frozen=True)
class SearchPlan:
    """A validated search: cleaned queries, mode, hybrid weight, and how deep BM25 goes
    (``None`` when it does not run)."""

    queries: list[str]
    k: int
    mode: Mode
    hybrid: Fusion
    depth: int | None


class BaseIndex(ABC):
    """A searchable, updatable, persistable collection of embedded documents."""

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

    def _init_stage1(
        self,
        mode: str | None,
        alpha: float | None,
        rrf_k: float | None,
        hybrid: Fusion | str | None,
    ) -> None:
        """The index's own stage-1 defaults; ``None`` everywhere means the funnel's."""
        self._mode = None if mode is None else check_mode(mode)
        if self._mode is not None:
            self._check_lexical(self._mode)
        self.hybrid = hybrid_fusion(hybrid, alpha, rrf_k)
        self._own_hybrid = any(v is not None for v in (hybrid, alpha, rrf_k))

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

    @abstractmethod
    def get(self, ids: Sequence[str]) -> list[Document]:
        """The documents with these ids, in the given order; unknown ids are skipped."""

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

    @abstractmethod
    def _refuse_taken(self, docs: list[Document]) -> None:
        """Raise if any of ``docs``' ids is already stored."""

    @abstractmethod
    def _insert(
        self,
        docs: list[Document],
        embeddings: np.ndarray | None,
        show: bool | None,
        *,
        replace: bool,
    ) -> list[str]:
        """Embed (outside the lock) and store ``docs``, replacing same ids if ``replace``."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> int:
        """Remove documents by id; unknown ids are ignored. Returns how many were removed."""

    @abstractmethod
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
        """Search several queries at once (one batched encoder call)."""

    @abstractmethod
    def search_vectors(
        self, vectors: np.ndarray, k: int = 10, *, filter: Filter | None = None
    ) -> list[list[Hit]]:
        """Search with precomputed query vectors, shape ``(n, dim)``."""

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
        return self.search_batch(
            [query], k, filter=filter, mode=mode, alpha=alpha, sparse_k=sparse_k, hybrid=hybrid
        )[0]

    async def asearch(
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
        """Async :meth:`search`; the encoding and search run off the event loop."""
        return await run_blocking(
            self.search,
            query,
            k,
            filter=filter,
            mode=mode,
            alpha=alpha,
            sparse_k=sparse_k,
            hybrid=hybrid,
        )

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
            vectors = np.asarray(embeddings, dtype=np.float32)
        if vectors.shape != (len(docs), self.dim):
            raise InvalidInputError(
                f"Expected embeddings of shape ({len(docs)}, {self.dim}), got {vectors.shape}."
            )
        if not np.all(np.isfinite(vectors)):
            raise InvalidInputError("Embeddings contain NaN or infinity.")
        return vectors

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
        check_k(k)
        chosen = check_mode(mode if mode is not None else self.mode)
        self._check_lexical(chosen)
        fusion = hybrid_fusion(hybrid, alpha, None, default=self.hybrid)
        depth = k if sparse_k is None else check_k(sparse_k, "sparse_k")
        cleaned = [clean_text(q) for q in queries]
        return SearchPlan(cleaned, k, chosen, fusion, None if chosen == "dense" else depth)

    def _encode(self, plan: SearchPlan) -> np.ndarray | None:
        """The query vectors a plan needs (none for BM25 alone)."""
        return None if plan.mode == "bm25" else self.encoder.encode_queries(plan.queries)

    def _assemble(self, lists: Lists, plan: SearchPlan) -> list[Hit]:
        return assemble(lists, plan.mode, plan.k, fusion=plan.hybrid)

    def _check_lexical(self, mode: str) -> None:
        if mode != "dense" and self.bm25 is None:
            raise InvalidInputError(
                f"mode={mode!r} needs BM25, and this index has none (built with bm25=False, or "
                "saved before shortlist 0.2). Call index.enable_bm25() (then save), or use "
                "mode='dense'."
            )


def check_k(k: int, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {k!r}.")
    return k


def check_ids(ids: Iterable[str]) -> list[str]:
    """Ids to delete: a list of str (a lone string would be read character by character)."""
    if isinstance(ids, str):
        raise InvalidInputError("delete() takes a list of ids, not a single string.")
    out = list(ids)
    for i, doc_id in enumerate(out):
        if not isinstance(doc_id, str):
            raise InvalidInputError(
                f"ids[{i}] is {doc_id!r}; document ids are str (write {str(doc_id)!r})."
            )
    return out


def positive_number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInputError(f"{name} must be a positive number, got {value!r}.")
    return float(value)
