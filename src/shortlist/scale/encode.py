"""Embed a large corpus on a Ray cluster and build a sharded index from it.

Ray Data does the distributed part: it reads the corpus's lines as a Dataset and embeds
them with ``map_batches`` on a pool of actors (the model loads once per actor; fractional
CPUs; a GPU each when asked for), retrying the work of an actor that dies. This process
consumes the embedded batches in corpus order, hands out keys, and sends each document to
the shard actor that owns its id (:class:`~shortlist.index.ShardedIndex` with
``ray=True``). Then every shard is written with the single index's atomic format and the
manifest listing them is committed (:mod:`shortlist.index.sharded_storage`).

Reruns resume: a shard whose folder was committed by an earlier run of the same build
(``.build.json``: corpus, shard count, model) is loaded instead of rebuilt, and its
documents are not embedded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from shortlist._optional import require
from shortlist.documents import Document
from shortlist.encoders import ONNX_PREFIX
from shortlist.encoders.identity import describe
from shortlist.errors import IndexFormatError, InvalidInputError
from shortlist.index import persist
from shortlist.index.lexical import Bm25
from shortlist.index.shard import shard_of
from shortlist.index.sharded import ShardedIndex
from shortlist.index.sharded_storage import (
    BUILD_PLAN as PLAN,
)
from shortlist.index.sharded_storage import check_target, commit, shard_folder, sharded_manifest
from shortlist.scale import ray_module


def corpus_files(corpus: str | os.PathLike[str]) -> list[Path]:
    """The files of a corpus: a JSON-lines or Parquet file, a BEIR folder, or a folder of
    ``.jsonl`` (or of ``.parquet``) files."""
    path = Path(corpus)
    if path.is_file() and path.suffix in (".jsonl", ".parquet"):
        return [path]
    if (path / "corpus.jsonl").is_file():
        return [path / "corpus.jsonl"]
    files: list[Path] = []
    if path.is_dir():
        for suffix in ("*.jsonl", "*.parquet"):
            files = files or sorted(p for p in path.glob(suffix) if p.is_file())
    if not files:
        raise InvalidInputError(
            f"{path}: no corpus found; pass a .jsonl or .parquet file, a BEIR folder "
            "(corpus.jsonl), or a folder of .jsonl or .parquet files."
        )
    return files


def as_lines(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Parquet rows (``_id``/``id``, ``text``, ``title``, other columns -> metadata) as the
    JSON lines a JSONL corpus holds, so both read alike."""
    columns = [c for c in batch if c != "path"]
    rows = [
        json.dumps({c: _plain(batch[c][i]) for c in columns}, ensure_ascii=False)
        for i in range(len(batch["path"]))
    ]
    return {"text": np.array(rows, dtype=object), "path": batch["path"]}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class Embedder:
    """A Ray Data actor: parses corpus lines and embeds them (model loaded once)."""

    def __init__(self, model: str, shards: int, skip: list[int], options: dict[str, Any]) -> None:
        from shortlist.encoders import load_encoder

        self.encoder = load_encoder(model, **options)
        self.shards, self.skip = shards, set(skip)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from shortlist.loaders import document_from_line

        docs = [
            document_from_line(str(line), f"{path} (a line)")
            for line, path in zip(batch["text"], batch["path"], strict=True)
        ]
        owner = np.array([shard_of(d.id, self.shards) for d in docs], dtype=np.int64)
        vectors = np.zeros((len(docs), self.encoder.dim), dtype=np.float32)
        todo = [i for i, s in enumerate(owner.tolist()) if s not in self.skip]
        if todo:
            vectors[todo] = self.encoder.encode_documents([docs[i].text for i in todo])
        rows = [json.dumps(d.to_dict(), ensure_ascii=False) for d in docs]
        return {"doc": np.array(rows, dtype=object), "shard": owner, "vector": vectors}


def build_on_ray(
    corpus: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    embedder: str | os.PathLike[str],
    shards: int = 4,
    spec: str | None = None,
    bm25: bool = True,
    batch_size: int = 64,
    actors: int | tuple[int, int] = 2,
    actor_cpus: float = 0.5,
    actor_gpus: float = 0,
    shard_cpus: float = 0.25,
    shard_options: dict[str, Any] | None = None,
    actor_options: dict[str, Any] | None = None,
    show_progress: bool = True,
) -> ShardedIndex:
    """Embed ``corpus`` on the current Ray cluster into a sharded index saved at ``out``.

    Call ``ray.init(...)`` first. ``embedder``: a sentence-transformers model (name or
    folder) or ``"onnx:DIR"`` (``shortlist export-encoder``; no torch in the actors, each
    running it on ``actor_cpus`` threads, at least one). ``actors``: a fixed pool size, or
    ``(min, max)`` for a pool that shrinks when nodes leave and grows when they join.
    ``shard_options``: Ray actor options for the shard actors (e.g. ``{"resources":
    {...}}`` to keep them on nodes that stay); ``actor_options``: more Ray options for the
    embedding actors (e.g. ``{"scheduling_strategy": "SPREAD"}``). Returns the index, its
    shards on Ray actors.
    """
    if actor_gpus and os.fspath(embedder).startswith(ONNX_PREFIX):
        raise InvalidInputError(
            "actor_gpus needs a sentence-transformers embedder: the ONNX encoder runs on "
            "CPU. Drop actor_gpus, or pass the model the export was made from."
        )
    ray = ray_module()
    data = require("ray.data", feature="Encoding on Ray", extra="ray")
    if not ray.is_initialized():
        raise InvalidInputError("build_on_ray needs a Ray cluster: call ray.init() first.")
    from shortlist.encoders import load_encoder

    files = corpus_files(corpus)
    out_dir = Path(out)
    encoder = load_encoder(embedder)
    model, options = _actor_model(encoder, actor_cpus, actor_gpus)
    plan = _plan(out_dir, files, shards, describe(encoder))
    done = _committed(out_dir, plan["generation"], shards)
    index = ShardedIndex._on(
        encoder,
        [_folder(out_dir, s, plan) if s in done else None for s in range(shards)],
        ray=dict(shard_options or {}), shard_cpus=shard_cpus,
        spec=spec, metric="cosine", bm25=Bm25() if bm25 else None, mode=None, alpha=None,
        rrf_k=None,
    )  # fmt: skip
    context = data.DataContext.get_current()
    context.execution_options.preserve_order = True  # keys follow the corpus's order
    context.enable_progress_bars = show_progress
    embedded = _read_lines(data, files).map_batches(
        Embedder,
        fn_constructor_kwargs={
            "model": model, "shards": shards, "skip": sorted(done), "options": options,
        },
        batch_size=batch_size, concurrency=actors, num_cpus=actor_cpus, num_gpus=actor_gpus,
        max_restarts=-1, max_task_retries=-1, **(actor_options or {}),
    )  # fmt: skip
    for batch in embedded.iter_batches(batch_size=max(batch_size, 256), batch_format="numpy"):
        docs = [Document(**json.loads(row)) for row in batch["doc"]]
        index._append_routed(docs, batch["vector"], batch["shard"], skip=done)
    _commit_shards(index, out_dir, plan["generation"], done)
    return index


def _actor_model(encoder: Any, actor_cpus: float, actor_gpus: float) -> tuple[str, dict[str, Any]]:
    """What each embedding actor loads: the model by name or folder, and its options (an
    ONNX export runs on as many threads as the actor was given CPUs)."""
    from shortlist.encoders import OnnxEncoder

    if isinstance(encoder, OnnxEncoder):
        return encoder.spec, {"threads": max(1, int(actor_cpus))}
    return os.fspath(encoder.source), {"device": "cuda" if actor_gpus else "cpu"}


def _read_lines(data: Any, files: list[Path]) -> Any:
    """The corpus as a Ray dataset of JSON lines (small CPU asks: a read task must fit
    beside the embedding actors)."""
    paths = [os.fspath(f) for f in files]
    if files[0].suffix == ".parquet":
        return data.read_parquet(paths, include_paths=True, num_cpus=0.1).map_batches(
            as_lines, batch_format="numpy", num_cpus=0.1
        )
    return data.read_text(paths, include_paths=True, num_cpus=0.1)


def _folder(out: Path, shard: int, plan: dict[str, Any]) -> str:
    return os.fspath(out / shard_folder(shard, plan["generation"]))


def _plan(out: Path, files: list[Path], shards: int, encoder: dict[str, Any]) -> dict[str, Any]:
    """This build's identity; an earlier run's plan is reused when it is the same build."""
    check_target(out)
    wanted = {
        "corpus": _fingerprint(files),
        "shards": shards,
        "encoder": {k: encoder[k] for k in ("name", "dim", "fingerprint")},
    }
    path = out / PLAN
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        if {k: saved.get(k) for k in wanted} == wanted:
            return dict(saved)
        raise InvalidInputError(
            f"{out} holds a build of another corpus, shard count or model ({PLAN}); use a "
            "new folder, or delete that one to start over."
        )
    out.mkdir(parents=True, exist_ok=True)
    plan = dict(wanted, generation=uuid.uuid4().hex[:12])
    path.write_text(json.dumps(plan, indent=2), encoding="utf-8")
    return plan


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _committed(out: Path, generation: str, shards: int) -> set[int]:
    """Shards an earlier run of this build wrote completely (their manifest verifies)."""
    done = set()
    for s in range(shards):
        folder = out / shard_folder(s, generation)
        if folder.is_dir():
            try:
                persist.open_manifest(folder)
            except IndexFormatError:
                continue
            done.add(s)
    return done


def _commit_shards(index: ShardedIndex, out: Path, generation: str, done: set[int]) -> None:
    """Write the shards not yet committed, each atomically, then the manifest naming all."""
    if index.bm25 is not None:
        index._sync_corpus_stats()
    folders = [shard_folder(s, generation) for s in range(index.shards)]
    index._shards.some(
        {s: ("save", (os.fspath(out / f),)) for s, f in enumerate(folders) if s not in done}
    )
    commit(out, sharded_manifest(index, folders, out))
    (out / PLAN).unlink(missing_ok=True)


__all__ = ["build_on_ray", "corpus_files"]
