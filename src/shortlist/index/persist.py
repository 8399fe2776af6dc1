"""Atomic, pickle-free persistence of an index directory, and its manifest's schema.

Layout::

    DIR/manifest.json            what is in the index, and which generation is current
    DIR/<generation>/index.faiss FAISS's own binary format (faiss.write_index)
    DIR/<generation>/documents.rows.npy   int64 (n, 5): key and offsets into the arena
    DIR/<generation>/documents.arena.npy  uint8: each document's UTF-8 id, text, metadata JSON
    DIR/<generation>/bm25/*.npy, terms.json  the BM25 postings (:mod:`.lexical`)

Format 1 (before the compact document store) kept the documents in ``documents.jsonl``
(one JSON object per document); it still loads. The arrays load memory-mapped, so a large
index opens fast.

A save writes a fresh generation folder, fsyncs it, then commits by atomically replacing
``manifest.json`` (``os.replace``); only then is the previous generation removed. A crash
at any point leaves the old manifest pointing at the old, complete files. Loading checks
the format version and the sha256 of every file and raises :class:`IndexFormatError`.

The manifest is written (:func:`manifest`) and validated (:func:`open_manifest`) here and
nowhere else; a sharded index's ``shards.json`` is read and committed with the same
helpers (:func:`read_manifest_file`, :func:`write_json`, :func:`fsync_dir`). Validation
is strict because a manifest is input: its generation and file names must be the ones
this module writes, so a crafted manifest can never make a load read outside the index
folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from shortlist._version import __version__
from shortlist.errors import IndexFormatError, IndexWriteError, InvalidInputError, ShortlistError
from shortlist.index import locks

FORMAT = "shortlist-index"
FORMAT_VERSION = 2
READS = (1, 2)
"""The format versions this shortlist loads (it writes :data:`FORMAT_VERSION`)."""
MANIFEST = "manifest.json"
FAISS_FILE = "index.faiss"
DOCS_FILE = "documents.jsonl"
DOC_ROWS_FILE = "documents.rows.npy"
DOC_ARENA_FILE = "documents.arena.npy"
FILES_OF = {1: (FAISS_FILE, DOCS_FILE), 2: (FAISS_FILE, DOC_ROWS_FILE, DOC_ARENA_FILE)}
FILES = FILES_OF[FORMAT_VERSION]
TOMBSTONES_FILE = "tombstones.npy"
"""Keys of deleted vectors an HNSW graph still holds (masked at search), when any."""
_GENERATION = re.compile(r"gen-[0-9a-f]{12}")
_OPTIONAL_FILE = re.compile(r"bm25/[A-Za-z0-9_][A-Za-z0-9_.-]*|tombstones\.npy")
MAX_KEY = 2**62
"""Keys are FAISS int64 ids; a ``next_key`` past this is a damaged manifest, not a corpus
(and would overflow on the next ``add``)."""
Fields = Mapping[str, type | tuple[type, ...]]
_REQUIRED: Fields = {
    "encoder": dict,
    "metric": str,
    "spec": str,
    "factory": (str, type(None)),
    "count": int,
    "next_key": int,
    "generation": str,
    "files": dict,
}


def manifest(
    *,
    encoder: dict[str, Any],
    metric: str,
    spec: str,
    factory: str | None,
    count: int,
    next_key: int,
    stage1: dict[str, Any],
    bm25: dict[str, Any] | None,
) -> dict[str, Any]:
    """The manifest of an index about to be saved (``commit`` adds generation and files)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "shortlist_version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "encoder": encoder,
        "metric": metric,
        "spec": spec,
        "factory": factory,
        "count": count,
        "next_key": next_key,
        "stage1": stage1,
        "bm25": bm25,
    }


def damaged(where: Path | str, what: str) -> IndexFormatError:
    """The error for a damaged index file: names the file and says how to recover."""
    return IndexFormatError(
        f"{where}: {what}. The index is damaged: restore it from a backup, or rebuild it "
        "(Index.build(...).save(dir), or `shortlist index`)."
    )


def fsync_dir(path: Path) -> None:
    """Make a rename or new entry in ``path`` durable (after ``os.replace``)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories; nothing to sync there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_array(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as ``.npy`` (never pickled) and fsync it."""
    with path.open("wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def write_bytes_array(path: Path, size: int, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` (``size`` bytes in all) as one uint8 ``.npy`` array, streamed, and
    fsync it: what a million documents' text takes, without a second copy in memory."""
    header = {"descr": "|u1", "fortran_order": False, "shape": (size,)}
    written = 0
    with path.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for chunk in chunks:
            fh.write(chunk)
            written += len(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    if written != size:
        raise IndexWriteError(f"{path}: wrote {written} bytes of {size}; nothing was committed.")


def read_array(path: Path, dtype: type) -> np.ndarray:
    """A saved ``.npy`` array, memory-mapped read-only; :func:`damaged` if it is not one
    of ``dtype`` (the checksum matched, so it was written that way)."""
    try:
        array: np.ndarray = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise damaged(path, f"not a NumPy array file ({exc})") from exc
    if array.dtype != np.dtype(dtype):
        raise damaged(path, f"holds {array.dtype}, not {np.dtype(dtype)}")
    return array


def read_documents(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the rows of a documents.jsonl file, with line numbers in errors."""
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                yield json.loads(line.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise damaged(f"{path}:{lineno}", f"not UTF-8 text ({exc})") from exc
            except json.JSONDecodeError as exc:
                raise damaged(f"{path}:{lineno}", f"corrupt JSON ({exc})") from exc


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a manifest (to its temporary name) and fsync it before it is swapped in."""
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())


def _ours(name: str) -> bool:
    """Entries a save writes: the manifest, generations, temp manifests, lock files."""
    return name in (MANIFEST, *locks.NAMES) or name.startswith("gen-") or name.endswith(".tmp")


def check_target(directory: Path) -> None:
    """Refuse to write into a folder that holds something other than a shortlist index.

    A folder holding only what a crashed first save left behind (a generation, a temp
    manifest, lock files) is ours: the next save writes there and removes the leftovers.
    """
    if directory.exists() and not directory.is_dir():
        raise InvalidInputError(f"{directory} exists and is not a directory.")
    if directory.is_dir() and not all(_ours(p.name) for p in directory.iterdir()):
        raise InvalidInputError(
            f"{directory} is a non-empty folder that is not a shortlist index; refusing to "
            "write into it. Choose an empty or new folder."
        )


def commit(directory: Path, manifest: dict[str, Any], write_files: Any) -> None:
    """Write a new generation with ``write_files(folder)``, then swap the manifest in atomically.

    Writers are serialised by a lock file, so a concurrent save (thread or process) waits
    and then commits after this one instead of deleting its files. Storage failures raise
    :class:`IndexWriteError`; the previously committed index stays loadable.
    """
    check_target(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with locks.held(directory, locks.WRITE_LOCK, exclusive=True):
            check_target(directory)  # another writer may have raced us to an empty folder
            generation = _write_generation(directory, manifest, write_files)
            with locks.held(directory, locks.READ_LOCK, exclusive=True):
                os.replace(directory / f".{MANIFEST}.{generation}.tmp", directory / MANIFEST)
                fsync_dir(directory)
                _remove_stale(directory, keep=generation)
    except (OSError, RuntimeError) as exc:
        if isinstance(exc, ShortlistError):
            raise
        raise IndexWriteError(
            f"Saving the index to {directory} failed ({exc}); nothing was committed, and an "
            "index saved there before is intact. Free space or fix permissions and save again."
        ) from exc


def _write_generation(directory: Path, manifest: dict[str, Any], write_files: Any) -> str:
    """Write and fsync a new generation and its manifest beside the current one."""
    generation = f"gen-{uuid.uuid4().hex[:12]}"
    folder = directory / generation
    folder.mkdir()
    try:
        extra = write_files(folder) or []
        manifest = dict(
            manifest,
            generation=generation,
            files={name: _sha256(folder / name) for name in (*FILES, *extra)},
        )
        fsync_dir(folder)
        write_json(directory / f".{MANIFEST}.{generation}.tmp", manifest)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        (directory / f".{MANIFEST}.{generation}.tmp").unlink(missing_ok=True)
        raise
    return generation


def _remove_stale(directory: Path, keep: str) -> None:
    """Old generations and leftovers of crashed saves (safe: we hold both locks)."""
    for stale in directory.iterdir():
        if stale.name != keep and (stale.name.startswith("gen-") or stale.name.endswith(".tmp")):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


@contextmanager
def reading(directory: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """The verified manifest and generation folder, kept from deletion during the block."""
    if not (directory / MANIFEST).is_file():
        open_manifest(directory)  # raises the "not a shortlist index" error
    with locks.held(directory, locks.READ_LOCK, exclusive=False):
        yield open_manifest(directory)


def check_index_dir(directory: Path) -> None:
    """Raise unless ``directory`` looks like an index (it has a manifest); reads nothing."""
    if not (directory / MANIFEST).is_file():
        raise IndexFormatError(
            f"{directory} is not a shortlist index (no {MANIFEST}). Build one with "
            "Index.build(...).save(dir) or `shortlist index`."
        )


def open_manifest(directory: Path) -> tuple[dict[str, Any], Path]:
    """Read and verify the manifest; return it and the current generation folder."""
    check_index_dir(directory)
    path = directory / MANIFEST
    manifest = read_manifest_file(path, FORMAT, READS, _REQUIRED)
    _check_fields(path, manifest)
    folder = directory / manifest["generation"]
    if folder.is_symlink() or not folder.is_dir():
        raise IndexFormatError(f"{directory}: generation folder {folder.name} is missing.")
    for name, digest in manifest["files"].items():
        file = folder / name
        if file.is_symlink() or not file.is_file():
            raise IndexFormatError(f"{directory}: {name} is missing from {folder.name}.")
        if _sha256(file) != digest:
            raise damaged(
                file, "does not match its checksum in the manifest (corrupted or modified)"
            )
    return manifest, folder


def read_manifest_file(
    path: Path, format: str, version: int | tuple[int, ...], fields: Fields
) -> dict[str, Any]:
    """A manifest file of either kind of index, checked as far as both share: UTF-8 JSON
    of this ``format`` and ``version``, every field in ``fields`` of its type, and a
    ``next_key`` that the next ``add`` can hand out."""
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise damaged(path, f"corrupt ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != format:
        raise IndexFormatError(f"{path} is not a {format} manifest.")
    versions = version if isinstance(version, tuple) else (version,)
    if manifest.get("format_version") not in versions:
        raise IndexFormatError(
            f"{path.parent} uses {format} format {manifest.get('format_version')}; this "
            f"shortlist reads format {' or '.join(map(str, versions))}. Rebuild the index or "
            "install a matching version."
        )
    for name, kind in fields.items():
        value = manifest.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise damaged(path, f"field {name!r} is missing or malformed")
    if not 0 <= manifest["next_key"] <= MAX_KEY:
        raise damaged(path, f"next_key {manifest['next_key']} is outside 0..2**62")
    return manifest


def _check_fields(path: Path, manifest: dict[str, Any]) -> None:
    """Names that stay inside the folder, and counts that agree with each other."""
    if not _GENERATION.fullmatch(manifest["generation"]):
        raise IndexFormatError(
            f"{path}: generation {manifest['generation']!r} is not a generation this format "
            "writes (gen-<12 hex digits>); refusing to read outside the index folder."
        )
    files, required = manifest["files"], FILES_OF[manifest["format_version"]]
    extra = set(files) - set(required)
    if (
        not set(required) <= set(files)
        or not all(_OPTIONAL_FILE.fullmatch(name) for name in extra)
        or not all(isinstance(v, str) for v in files.values())
    ):
        raise IndexFormatError(
            f"{path}: files must list exactly {', '.join(required)} (and bm25/<name> files, "
            "tombstones.npy)."
        )
    encoder = manifest["encoder"]
    if not isinstance(encoder.get("name"), str) or not isinstance(encoder.get("dim"), int):
        raise damaged(path, "encoder name/dim are missing or malformed")
    if not 0 <= manifest["count"] <= manifest["next_key"]:
        raise damaged(path, "count and next_key are inconsistent")
    if manifest["factory"] is None and manifest["count"]:
        raise damaged(path, f"factory is null (an empty index) but count is {manifest['count']}")


SavedKind = Callable[[Path, Any, Any], Any]
"""Opens a saved folder of one kind: ``(path, encoder, bm25) -> index``."""

_SAVED_KINDS: dict[str, SavedKind] = {}


def register_saved_kind(manifest: str, opener: SavedKind) -> None:
    """Let :meth:`Index.load <shortlist.index.Index.load>` open another kind of saved
    index, told apart by the manifest file its folder holds. The kind registers itself
    (the sharded index does), so no import here points up at it."""
    _SAVED_KINDS[manifest] = opener


def saved_kind(directory: Path) -> SavedKind | None:
    """The registered opener for ``directory``, or ``None`` for a single index."""
    for manifest, opener in _SAVED_KINDS.items():
        if (directory / manifest).is_file():
            return opener
    return None
