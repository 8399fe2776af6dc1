"""Atomic, pickle-free persistence of an index directory.

Layout::

    DIR/manifest.json            what is in the index, and which generation is current
    DIR/<generation>/index.faiss FAISS's own binary format (faiss.write_index)
    DIR/<generation>/documents.jsonl  one JSON object per document: key, id, text, metadata

A save writes a fresh generation folder, fsyncs it, then commits by atomically replacing
``manifest.json`` (``os.replace``); only then is the previous generation removed. A crash
at any point leaves the old manifest pointing at the old, complete files. Loading checks
the format version and the sha256 of every file and raises :class:`IndexFormatError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from shortlist.errors import IndexFormatError, InvalidInputError

FORMAT = "shortlist-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FAISS_FILE = "index.faiss"
DOCS_FILE = "documents.jsonl"


def _fsync_dir(path: Path) -> None:
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


def write_documents(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write JSON lines and fsync; returns the number of rows."""
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, allow_nan=False))
            fh.write("\n")
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    return count


def read_documents(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the rows of a documents.jsonl file, with line numbers in errors."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise IndexFormatError(f"{path}:{lineno}: corrupt JSON ({exc}).") from exc


def check_target(directory: Path) -> None:
    """Refuse to write into a folder that holds something other than a shortlist index."""
    if directory.exists() and not directory.is_dir():
        raise InvalidInputError(f"{directory} exists and is not a directory.")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / MANIFEST).exists():
        raise InvalidInputError(
            f"{directory} is a non-empty folder that is not a shortlist index; refusing to "
            "write into it. Choose an empty or new folder."
        )


def commit(directory: Path, manifest: dict[str, Any], write_files: Any) -> None:
    """Write a new generation with ``write_files(folder)``, then swap the manifest in atomically."""
    check_target(directory)
    directory.mkdir(parents=True, exist_ok=True)
    generation = f"gen-{uuid.uuid4().hex[:12]}"
    folder = directory / generation
    folder.mkdir()
    try:
        write_files(folder)
        manifest = dict(
            manifest,
            generation=generation,
            files={name: _sha256(folder / name) for name in (FAISS_FILE, DOCS_FILE)},
        )
        _fsync_dir(folder)
        tmp = directory / f".{MANIFEST}.{generation}.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / MANIFEST)  # the commit point
        _fsync_dir(directory)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    for stale in directory.iterdir():  # old generations and leftovers of crashed saves
        if stale.name != generation and (
            stale.name.startswith("gen-") or stale.name.endswith(".tmp")
        ):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(
                missing_ok=True
            )


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
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IndexFormatError(f"{path} is corrupt: {exc}.") from exc
    if manifest.get("format") != FORMAT:
        raise IndexFormatError(f"{path} is not a shortlist manifest.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFormatError(
            f"{directory} uses index format {manifest.get('format_version')}; this shortlist "
            f"reads format {FORMAT_VERSION}. Rebuild the index or install a matching version."
        )
    folder = directory / str(manifest.get("generation", ""))
    for name, digest in manifest.get("files", {}).items():
        file = folder / name
        if not file.is_file():
            raise IndexFormatError(f"{directory}: {file.name} is missing from {folder.name}.")
        if _sha256(file) != digest:
            raise IndexFormatError(
                f"{file} does not match its checksum in the manifest (corrupted or modified)."
            )
    return manifest, folder
