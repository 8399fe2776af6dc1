"""A corpus embedded with Ray Data into a sharded index, and a build that resumes.

These builds embed with the float32 ONNX export of the bi-encoder (``onnx:DIR``): what is
tested is Ray's part, and actors that import no torch start in a fraction of the time.
(Not the int8 export: dynamic quantisation scales activations per batch, so a document's
int8 vector depends on its batch-mates, and Ray batches differently from one process.)
The torch encoder on Ray is covered by ``test_ray_cli.py`` (the command's default)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from shortlist.encoders.identity import describe
from shortlist.index import Index, ShardedIndex
from shortlist.loaders import load_documents

pytestmark = pytest.mark.slow
MODES = [{"mode": "dense"}, {"mode": "bm25"}, {"mode": "hybrid", "alpha": 0.5}]
QUERIES = ["wing flutter", "heat transfer to a flat plate", "buckling of cylindrical shells"]


def _first(cranfield_path: Path, folder: Path, count: int, words: int | None = None) -> Path:
    """The first ``count`` Cranfield documents as JSONL, texts cut to ``words`` words."""
    rows = [
        json.loads(line)
        for line in (cranfield_path / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    ][:count]
    for row in rows:
        row["text"] = " ".join(row["text"].split()[:words])
    path = folder / f"corpus-{count}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(cranfield_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 short documents: three shards of 40 test the plan and the format, not the size
    (the texts are cut to 20 words, so the time goes to Ray's part, not to embedding)."""
    return _first(cranfield_path, tmp_path_factory.mktemp("corpus"), 120, words=20)


def _close(a, b) -> None:  # type: ignore[no-untyped-def]
    """Same ids and order; scores equal up to float noise of batch-dependent encoding."""
    assert [h.id for h in a] == [h.id for h in b]
    np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-5)


@pytest.fixture(scope="module")
def embedder(encoder_exports) -> str:  # type: ignore[no-untyped-def]
    return f"onnx:{encoder_exports['float32']}"


def _build(corpus: Path, out: Path, embedder: str) -> ShardedIndex:
    from shortlist.scale.encode import build_on_ray

    return build_on_ray(
        corpus, out, embedder=embedder, shards=3, actors=1, actor_cpus=0.5,
        shard_cpus=0.1, show_progress=False,
    )  # fmt: skip


def test_a_ray_data_build_equals_one_index_and_resumes(
    local_ray, corpus, embedder, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from shortlist.scale import encode

    clean = _build(corpus, tmp_path / "clean", embedder)
    single = Index.build(load_documents(corpus), embedder)
    try:
        assert len(clean) == 120 and clean.ids == single.ids
        for q in QUERIES:
            for settings in MODES:
                _close(clean.search(q, 10, **settings), single.search(q, 10, **settings))
    finally:
        clean.close()
    assert not (tmp_path / "clean" / encode.PLAN).exists()  # a finished build leaves no plan

    # A run that committed shards 0 and 2, then died: its plan and those two folders.
    out = tmp_path / "resumed"
    plan = encode._plan(out, encode.corpus_files(corpus), 3, describe(single.encoder))
    old = {p.name[:10]: p for p in (tmp_path / "clean").iterdir() if p.name.startswith("shard-")}
    for s in (0, 2):
        shutil.copytree(old[f"shard-{s:04d}"], out / f"shard-{s:04d}-{plan['generation']}")
    (out / f"shard-0001-{plan['generation']}").mkdir()  # a write killed before it committed
    before = {
        s: encode.persist.open_manifest(Path(encode._folder(out, s, plan)))[0]["generation"]
        for s in (0, 2)
    }
    resumed = _build(corpus, out, embedder)
    try:
        after = {
            s: encode.persist.open_manifest(Path(encode._folder(out, s, plan)))[0]["generation"]
            for s in (0, 2)
        }
        assert after == before  # committed shards were kept, not rebuilt
        assert len(resumed) == 120 and resumed.ids == single.ids
        for q in QUERIES:
            for settings in MODES:
                _close(resumed.search(q, 10, **settings), single.search(q, 10, **settings))
    finally:
        resumed.close()
    reloaded = ShardedIndex.load(out)  # loads the export the manifest names, not torch
    assert len(reloaded) == 120 and reloaded.encoder.spec == embedder


def test_a_parquet_corpus_builds_the_same_index(local_ray, corpus, embedder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = corpus.read_text(encoding="utf-8").splitlines()[:100]  # the format, not the size
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = [json.loads(line) for line in lines]
    columns = {key: [r[key] for r in rows] for key in ("_id", "title", "text")}
    pq.write_table(pa.table(columns), tmp_path / "corpus.parquet")
    index = _build(tmp_path / "corpus.parquet", tmp_path / "idx", embedder)
    try:
        single = Index.build(load_documents(small), embedder)
        assert index.ids == single.ids
        _close(
            index.search(QUERIES[0], 10, mode="hybrid"),
            single.search(QUERIES[0], 10, mode="hybrid"),
        )
    finally:
        index.close()


def test_a_node_removed_mid_encode_does_not_stop_the_build(
    cranfield_path, embedder, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A 2-node cluster; the node running an embedding actor leaves mid-build. Ray Data
    moves its work to the node that stays and the build completes with every document.
    300 whole documents, so the build is still running when the node goes."""
    import threading
    import time

    import ray
    from ray.cluster_utils import Cluster
    from ray.util.state import list_actors

    from shortlist.scale.encode import build_on_ray

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 2, "resources": {"shard_host": 10}, "node_ip_address": "127.0.0.1",
            "include_dashboard": True, "dashboard_host": "127.0.0.1",  # for list_actors
        },
    )  # fmt: skip
    worker = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    corpus = _first(cranfield_path, tmp_path, 300)
    removed: list[float] = []
    started = time.monotonic()

    def remove_when_an_embedder_runs_there() -> None:
        while time.monotonic() - started < 240:
            actors = list_actors(filters=[("state", "=", "ALIVE")], raise_on_missing_output=False)
            if any("MapWorker" in a.class_name and a.node_id == worker.node_id for a in actors):
                time.sleep(1.0)  # let it take some batches first
                cluster.remove_node(worker)
                removed.append(time.monotonic())
                return
            time.sleep(0.2)

    remover = threading.Thread(target=remove_when_an_embedder_runs_there, daemon=True)
    remover.start()
    try:
        index = build_on_ray(
            corpus, tmp_path / "idx", embedder=embedder, shards=2, actors=2,
            actor_cpus=0.5, shard_cpus=0.1, shard_options={"resources": {"shard_host": 1}},
            actor_options={"scheduling_strategy": "SPREAD"}, show_progress=False,
        )  # fmt: skip
        finished = time.monotonic()
        remover.join(timeout=5)
        assert removed and removed[0] < finished  # the node left while the build ran
        assert len(index) == 300
        assert index.ids == [d.id for d in load_documents(corpus)]
        index.close()
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_gpu_actors_with_the_onnx_encoder_are_refused(corpus, embedder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Refused from the arguments alone: before a cluster is needed or a model loads."""
    from shortlist.errors import InvalidInputError
    from shortlist.scale.encode import build_on_ray

    with pytest.raises(InvalidInputError, match="actor_gpus needs a sentence-transformers"):
        build_on_ray(corpus, tmp_path / "idx", embedder=embedder, actor_gpus=1)
    assert not (tmp_path / "idx").exists()  # refused before anything was written
