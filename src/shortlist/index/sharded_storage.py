"""Saving and loading a :class:`~shortlist.index.ShardedIndex`.

Layout::

    DIR/shards.json              the sharded manifest: shard folders, each one's manifest
                                 checksum, routing, next key, encoder, stage-1 options
    DIR/shard-0000-<gen>/        an ordinary index folder (:mod:`.persist`), one per shard

A save writes every shard into fresh ``shard-NNNN-<gen>`` folders (each itself atomic),
then commits by replacing ``shards.json`` (``os.replace``), then removes the previous
generation's shards: a crash at any point leaves the old manifest naming old, complete
shards. Writers and readers take the same lock files as a single index. Loading checks
the format, every shard folder name (so a crafted manifest cannot point outside the
folder) and every shard manifest's sha256. A shard built by a cluster job
(:mod:`shortlist.scale.encode`) is committed the same way, shard by shard.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from shortlist._version import __version__
from shortlist.encoders import Encoder
from shortlist.encoders.identity import describe, encoder_for
from shortlist.errors import IndexFormatError, IndexWriteError, InvalidInputError, ShortlistError
from shortlist.index import locks, persist
from shortlist.index.hybrid import stage1_settings
from shortlist.index.lexical import Bm25
from shortlist.index.shards import Shards
from shortlist.index.specs import IndexSpec


class Sharded(Protocol):
    """What saving reads from a :class:`~shortlist.index.ShardedIndex`: spelled out here so
    that this module does not import the class whose ``save`` and ``load`` call it."""

    encoder: Encoder
    metric: str
    spec: IndexSpec
    bm25: Bm25 | None
    _next_key: int
    _shards: Shards

    @property
    def shards(self) -> int: ...

    def stage1_manifest(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=Sharded)

FORMAT = "shortlist-sharded-index"
FORMAT_VERSION = 1
MANIFEST = "shards.json"
ROUTING = "blake2b-64 mod shards"
BUILD_PLAN = ".build.json"  # a cluster build in progress (shortlist.scale.encode)
SHARD_FOLDER = re.compile(r"shard-[0-9]{4}-[0-9a-f]{12}")
_REQUIRED: persist.Fields = {
    "shards": list,
    "next_key": int,
    "routing": str,
    "encoder": dict,
    "spec": str,
    "metric": str,
}


def shard_folder(shard: int, generation: str) -> str:
    return f"shard-{shard:04d}-{generation}"


def is_sharded(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` holds a sharded index (a ``shards.json``)."""
    return (Path(directory) / MANIFEST).is_file()


def manifest_digest(shard_dir: Path) -> str:
    return hashlib.sha256((shard_dir / persist.MANIFEST).read_bytes()).hexdigest()


def sharded_manifest(index: Sharded, folders: list[str], root: Path) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "shortlist_version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "routing": ROUTING,
        "encoder": describe(index.encoder),
        "spec": str(index.spec),
        "metric": index.metric,
        "next_key": index._next_key,
        "stage1": index.stage1_manifest(),
        "bm25": index.bm25.config() if index.bm25 is not None else None,
        "shards": [{"folder": f, "manifest_sha256": manifest_digest(root / f)} for f in folders],
    }


def check_target(directory: Path) -> None:
    """Write only into a new or empty folder, or over a sharded index."""
    if directory.exists() and not directory.is_dir():
        raise InvalidInputError(f"{directory} exists and is not a directory.")
    ours = (MANIFEST, BUILD_PLAN, *locks.NAMES)
    if directory.is_dir() and not all(
        p.name in ours or p.name.endswith(".tmp") or SHARD_FOLDER.fullmatch(p.name)
        for p in directory.iterdir()
    ):
        raise InvalidInputError(
            f"{directory} is a non-empty folder that is not a sharded shortlist index; "
            "refusing to write into it. Choose an empty or new folder."
        )


def save(index: Sharded, directory: Path) -> Path:
    """ShardedIndex.save (the caller holds the index's lock)."""
    check_target(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with locks.held(directory, locks.WRITE_LOCK, exclusive=True):
            check_target(directory)
            generation = uuid.uuid4().hex[:12]
            folders = [shard_folder(s, generation) for s in range(index.shards)]
            try:
                index._shards.some(
                    {s: ("save", (os.fspath(directory / f),)) for s, f in enumerate(folders)}
                )
                commit(directory, sharded_manifest(index, folders, directory))
            except BaseException:
                for f in folders:
                    shutil.rmtree(directory / f, ignore_errors=True)
                raise
    except (OSError, RuntimeError) as exc:
        if isinstance(exc, ShortlistError):
            raise
        raise IndexWriteError(
            f"Saving the sharded index to {directory} failed ({exc}); nothing was committed, "
            "and an index saved there before is intact."
        ) from exc
    return directory


def commit(directory: Path, manifest: dict[str, Any]) -> None:
    """Swap ``shards.json`` in atomically, then drop shard folders it no longer names."""
    tmp = directory / f".{MANIFEST}.{uuid.uuid4().hex[:12]}.tmp"
    persist.write_json(tmp, manifest)
    keep = {s["folder"] for s in manifest["shards"]}
    with locks.held(directory, locks.READ_LOCK, exclusive=True):
        os.replace(tmp, directory / MANIFEST)
        persist.fsync_dir(directory)
        for stale in directory.iterdir():
            if SHARD_FOLDER.fullmatch(stale.name) and stale.name not in keep:
                shutil.rmtree(stale, ignore_errors=True)
            elif stale.name.endswith(".tmp"):
                stale.unlink(missing_ok=True)


def read_manifest(directory: Path) -> dict[str, Any]:
    """The verified sharded manifest: format, field types, shard names and checksums."""
    path = directory / MANIFEST
    if not path.is_file():
        raise IndexFormatError(f"{directory} is not a sharded shortlist index (no {MANIFEST}).")
    manifest = persist.read_manifest_file(path, FORMAT, FORMAT_VERSION, _REQUIRED)
    shards = manifest["shards"]
    if not shards or manifest["routing"] != ROUTING:
        raise persist.damaged(path, f"it lists no shards, or routes by other than {ROUTING!r}")
    for n, shard in enumerate(shards):
        folder = shard.get("folder") if isinstance(shard, dict) else None
        if not isinstance(folder, str) or not SHARD_FOLDER.fullmatch(folder):
            raise IndexFormatError(
                f"{path}: shard {n} names {folder!r}, not a shard folder this format writes; "
                "refusing to read outside the index folder."
            )
        where = directory / folder
        if where.is_symlink() or not where.is_dir() or not (where / persist.MANIFEST).is_file():
            raise IndexFormatError(f"{directory}: shard folder {folder} is missing.")
        if manifest_digest(where) != shard.get("manifest_sha256"):
            raise IndexFormatError(
                f"{where}: its manifest does not match the checksum in {MANIFEST} "
                "(a shard from another save, or modified)."
            )
    return manifest


def load(
    start: Callable[..., S],
    directory: Path,
    encoder: Encoder | str | os.PathLike[str] | None,
    ray: bool | Mapping[str, Any],
    shard_cpus: float,
    bm25: Bm25 | None,
) -> S:
    """ShardedIndex.load: verify, find the encoder, start the shards on their folders
    (``start`` is ``ShardedIndex._on``)."""
    with locks.held(directory, locks.READ_LOCK, exclusive=False):
        manifest = read_manifest(directory)
        enc = encoder_for(manifest["encoder"], directory, encoder)
        saved_bm25 = manifest.get("bm25")
        lexical = Bm25.from_config(saved_bm25, bm25) if saved_bm25 else bm25
        mode, fusion = stage1_settings(manifest.get("stage1") or {})
        return start(
            enc,
            [os.fspath(directory / s["folder"]) for s in manifest["shards"]],
            ray=ray,
            shard_cpus=shard_cpus,
            next_key=manifest["next_key"],
            spec=manifest["spec"],
            metric=manifest["metric"],
            bm25=lexical,
            mode=mode if lexical is not None else None,
            alpha=None,
            rrf_k=None,
            hybrid=fusion,
        )
