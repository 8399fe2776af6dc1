"""Saving and loading an :class:`~shortlist.index.Index` (the layout is :mod:`.persist`'s).

Kept out of the class so that it reads as what an index does; this module knows how its
parts (document store, FAISS structure, BM25) map to files of one atomic generation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from shortlist._optional import require
from shortlist.encoders import Encoder
from shortlist.encoders.identity import describe, encoder_for
from shortlist.index import persist
from shortlist.index.docstore import DocStore
from shortlist.index.hybrid import stage1_settings
from shortlist.index.lexical import Bm25
from shortlist.index.specs import IndexSpec


class Stored(Protocol):
    """What saving reads from an :class:`~shortlist.index.Index` and loading sets on one.

    Spelled out here so that this module does not import the class whose ``save`` and
    ``load`` call it (that would be an import cycle).
    """

    encoder: Encoder
    metric: str
    spec: IndexSpec
    bm25: Bm25 | None
    _lock: Any
    _store: DocStore
    _factory: str | None
    _faiss_index: Any

    def _compact(self) -> None: ...

    def stage1_manifest(self) -> dict[str, Any]: ...

    def enable_bm25(self, bm25: Bm25 | None = None) -> None: ...


S = TypeVar("S", bound=Stored)


def _faiss() -> Any:
    return require("faiss", feature="The FAISS index")


def _read_faiss(path: Path) -> Any:
    """FAISS's own reader, its errors (a truncated file) turned into a damaged index."""
    try:
        return _faiss().read_index(str(path))
    except RuntimeError as exc:
        raise persist.damaged(path, f"FAISS cannot read it ({str(exc).splitlines()[0]})") from None


def save(self: Stored, directory: Path) -> Path:
    """Index.save: the manifest, documents, FAISS and BM25 files as one generation."""
    faiss = _faiss()
    with self._lock:
        self._compact()
        rows, store = self._store.live_rows(), self._store
        manifest = persist.manifest(
            encoder=describe(self.encoder),
            metric=self.metric,
            spec=str(self.spec),
            factory=self._factory,
            count=len(rows),
            next_key=self._store.next_key,
            stage1=self.stage1_manifest(),
            bm25=self.bm25.config() if self.bm25 is not None else None,
        )
        index, bm25 = self._faiss_index, self.bm25
        dead = np.array(sorted(self._store.tombstones), dtype=np.int64)

        def write(folder: Path) -> list[str]:
            persist.write_array(folder / persist.DOC_ROWS_FILE, rows)
            size = int(rows[-1, -1]) if len(rows) else 0
            persist.write_bytes_array(folder / persist.DOC_ARENA_FILE, size, store.arena_chunks())
            if index is not None:
                faiss.write_index(index, str(folder / persist.FAISS_FILE))
            else:
                (folder / persist.FAISS_FILE).write_bytes(b"")
            extra = []
            if len(dead):  # a graph's deleted vectors, still in it (masked at search)
                persist.write_array(folder / persist.TOMBSTONES_FILE, dead)
                extra.append(persist.TOMBSTONES_FILE)
            return extra + (bm25.save(folder) if bm25 is not None else [])

        persist.commit(directory, manifest, write)
    return directory


def _documents(folder: Path, manifest: dict[str, Any], directory: Path) -> DocStore:
    """The saved document store: memory-mapped arrays, or format 1's JSON lines."""
    if manifest["format_version"] == 1:
        rows = persist.read_documents(folder / persist.DOCS_FILE)
        return DocStore.from_rows(rows, manifest["next_key"], str(directory))
    return DocStore.from_arrays(
        persist.read_array(folder / persist.DOC_ROWS_FILE, np.int64),
        persist.read_array(folder / persist.DOC_ARENA_FILE, np.uint8),
        manifest["next_key"],
        str(directory),
    )


def _tombstones(
    folder: Path, manifest: dict[str, Any], store: DocStore, directory: Path
) -> set[int]:
    """Keys of deleted vectors a saved graph still holds: each below ``next_key`` and
    no live document's (else they would mask a document, or hide a damaged file)."""
    if persist.TOMBSTONES_FILE not in manifest["files"]:
        return set()
    dead = persist.read_array(folder / persist.TOMBSTONES_FILE, np.int64)
    keys = set(dead.tolist())
    if (
        dead.ndim != 1
        or len(keys) != len(dead)
        or (len(dead) and not 0 <= int(dead.min()) <= int(dead.max()) < manifest["next_key"])
        or np.isin(dead, store.keys()).any()
    ):
        raise persist.damaged(directory, "the deleted-vector list is inconsistent")
    return keys


def load(
    cls: Callable[..., S],
    directory: Path,
    encoder: Encoder | str | os.PathLike[str] | None,
    bm25: bool | Bm25 | None,
) -> S:
    """Index.load: verify the generation, rebuild store, FAISS and BM25, find the encoder."""
    with persist.reading(directory) as (manifest, folder):
        store = _documents(folder, manifest, directory)
        stored = None
        if manifest["factory"] is not None:
            stored = _read_faiss(folder / persist.FAISS_FILE)
        saved_bm25 = manifest.get("bm25")
        given = bm25 if isinstance(bm25, Bm25) else None
        lexical = Bm25.load(folder, saved_bm25, store, given) if saved_bm25 else None
        dead = _tombstones(folder, manifest, store, directory)
    if len(store) != manifest["count"]:
        raise persist.damaged(directory, "the document count does not match the manifest")
    if stored is not None and stored.ntotal != len(store) + len(dead):
        raise persist.damaged(
            directory,
            f"FAISS holds {stored.ntotal} vectors but there are {len(store)} documents"
            + (f" and {len(dead)} deleted ones" if dead else ""),
        )
    store.tombstones = dead
    enc = encoder_for(manifest["encoder"], directory, encoder)
    mode, fusion = stage1_settings(manifest.get("stage1") or {})
    index = cls(
        enc,
        spec=manifest["spec"],
        metric=manifest["metric"],
        bm25=lexical if lexical is not None else False,
        mode=mode if lexical is not None else None,
        hybrid=fusion,
    )
    index._factory, index._store, index._faiss_index = manifest["factory"], store, stored
    if lexical is None and bm25:
        index.enable_bm25(bm25 if isinstance(bm25, Bm25) else None)
    return index
