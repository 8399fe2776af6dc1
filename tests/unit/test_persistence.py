"""Saving is atomic and pickle-free; loading verifies what it reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shortlist import Index, IndexFormatError, IndexWriteError, InvalidInputError
from shortlist.index import persist
from tests.unit.toy import HashEncoder


def _index(n: int = 50, spec: str = "flat") -> Index:
    return Index.build(
        [f"text {i}" for i in range(n)],
        HashEncoder(),
        ids=[f"d{i}" for i in range(n)],
        metadatas=[{"i": i, "tags": ["a", "b"], "nested": {"x": 1.5}} for i in range(n)],
        spec=spec,
    )


def test_layout_is_plain_files_and_no_pickle(tmp_path: Path) -> None:
    path = _index().save(tmp_path / "idx")
    manifest = json.loads((path / "manifest.json").read_text())
    folder = path / manifest["generation"]
    docs = ["documents.arena.npy", "documents.rows.npy"]
    assert sorted(p.name for p in folder.iterdir()) == ["bm25", *docs, "index.faiss"]
    assert sorted(manifest["files"]) == sorted(
        [*docs, "index.faiss"] + [f"bm25/{p.name}" for p in (folder / "bm25").iterdir()]
    )
    rows = np.load(folder / "documents.rows.npy", allow_pickle=False)
    arena = np.load(folder / "documents.arena.npy", allow_pickle=False).tobytes()
    key, id_at, text_at, meta_at, end_at = rows[3].tolist()  # offsets into the arena
    assert key == 3 and arena[id_at:text_at] == b"d3" and arena[text_at:meta_at] == b"text 3"
    assert json.loads(arena[meta_at:end_at]) == {"i": 3, "tags": ["a", "b"], "nested": {"x": 1.5}}
    for f in folder.rglob("*"):
        if f.is_file():
            assert not f.read_bytes().startswith(b"\x80"), f"{f.name} looks like a pickle"


def test_crash_mid_save_leaves_previous_index_loadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _index(30)
    path = first.save(tmp_path / "idx")
    bigger = _index(60)

    def crash(*args: object, **kwargs: object) -> int:
        raise OSError("disk full (injected)")

    monkeypatch.setattr(persist, "write_array", crash)
    with pytest.raises(IndexWriteError, match=r"injected.*saved there before is intact"):
        bigger.save(path)
    monkeypatch.undo()
    loaded = Index.load(path, encoder=HashEncoder())
    assert len(loaded) == 30  # the old index, intact
    assert (
        len([p for p in path.iterdir() if p.name.startswith("gen-")]) == 1
    )  # no half-written generation left


def test_crash_before_commit_point_keeps_old_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _index(30).save(tmp_path / "idx")
    import os

    real_replace = os.replace

    def crash_on_manifest(src: str, dst: str) -> None:
        if str(dst).endswith("manifest.json"):
            raise KeyboardInterrupt  # e.g. the process is killed right before the commit
        real_replace(src, dst)

    monkeypatch.setattr(persist.os, "replace", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        _index(60).save(path)
    monkeypatch.undo()
    assert len(Index.load(path, encoder=HashEncoder())) == 30
    # the next successful save cleans up whatever the crash left behind
    _index(45).save(path)
    assert len(Index.load(path, encoder=HashEncoder())) == 45
    assert len([p for p in path.iterdir() if p.name.startswith("gen-")]) == 1
    assert not [p for p in path.iterdir() if p.name.endswith(".tmp")]


def test_tampered_file_is_detected(tmp_path: Path) -> None:
    path = _index().save(tmp_path / "idx")
    gen = json.loads((path / "manifest.json").read_text())["generation"]
    docs = path / gen / "documents.arena.npy"
    docs.write_bytes(docs.read_bytes().replace(b"text 3", b"text X"))
    with pytest.raises(IndexFormatError, match="checksum"):
        Index.load(path, encoder=HashEncoder())


def test_wrong_format_version_and_non_index_dirs(tmp_path: Path) -> None:
    path = _index().save(tmp_path / "idx")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["format_version"] = 99
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="format 99"):
        Index.load(path, encoder=HashEncoder())
    with pytest.raises(IndexFormatError, match="not a shortlist index"):
        Index.load(tmp_path, encoder=HashEncoder())


def test_refuses_to_overwrite_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(InvalidInputError, match="not a shortlist index"):
        _index().save(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "precious"


@pytest.mark.parametrize("spec", ["flat", "hnsw", "ivfpq:nlist=4,m=4"])
def test_roundtrip_after_deletes_for_each_structure(tmp_path: Path, spec: str) -> None:
    index = _index(300, spec)
    index.delete([f"d{i}" for i in range(0, 300, 3)])
    index.upsert(["replacement"], ids=["d1"])
    expected = [(h.id, round(h.score, 5)) for h in index.search("text 7", k=20)]
    loaded = Index.load(index.save(tmp_path / spec), encoder=HashEncoder())
    assert len(loaded) == 200
    assert [(h.id, round(h.score, 5)) for h in loaded.search("text 7", k=20)] == expected
    assert loaded.get(["d1"])[0].text == "replacement"
    loaded.add(["after load"], ids=["new"])  # keys keep growing: no collision with old ones
    assert loaded.search("after load", k=1)[0].id == "new"


def test_empty_index_saves_and_loads(tmp_path: Path) -> None:
    empty = Index(HashEncoder())
    loaded = Index.load(empty.save(tmp_path / "e"), encoder=HashEncoder())
    assert len(loaded) == 0 and loaded.search("anything", k=3) == []
    loaded.add(["now there is one"], ids=["x"])
    assert loaded.search("now there is one", k=3)[0].id == "x"


def test_a_faiss_storage_error_is_typed_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    path = _index(30).save(tmp_path / "idx")

    def full(*args: object) -> None:
        raise RuntimeError("Error: 'ret == (n)' failed: write error (injected)")

    monkeypatch.setattr(faiss, "write_index", full)
    with pytest.raises(IndexWriteError, match="write error"):
        _index(60).save(path)
    monkeypatch.undo()
    assert len(Index.load(path, encoder=HashEncoder())) == 30


def test_a_crashed_first_save_does_not_block_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed before its first commit: the folder holds only our leftovers."""
    path = tmp_path / "idx"
    import os

    real_replace = os.replace

    def killed(src: str, dst: str) -> None:
        if str(dst).endswith("manifest.json"):
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(persist.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        _index(30).save(path)
    monkeypatch.undo()
    # simulate kill -9: what a dead process leaves (a generation, a temp manifest, locks)
    (path / "gen-0123456789ab").mkdir()
    (path / ".manifest.json.gen-0123456789ab.tmp").write_text("{")
    assert not (path / "manifest.json").exists()
    _index(40).save(path)
    assert len(Index.load(path, encoder=HashEncoder())) == 40
    assert len([p for p in path.iterdir() if p.name.startswith("gen-")]) == 1


_SAVER = """
import sys
sys.path.insert(0, sys.argv[3])
from shortlist import Index
from tests.unit.toy import HashEncoder
n = int(sys.argv[2])
index = Index.build([f"text {i}" for i in range(n)], HashEncoder(), ids=[f"d{i}" for i in range(n)])
for _ in range(15):
    index.save(sys.argv[1])
"""


def test_two_processes_saving_at_once_leave_a_loadable_index(tmp_path: Path) -> None:
    """Each commit used to delete the other writer's generation: 3 of 5 trials unloadable."""
    import subprocess
    import sys

    from tests.conftest import REPO

    path = tmp_path / "idx"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(path), str(n), str(REPO)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (30, 50)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    loaded = Index.load(path, encoder=HashEncoder())
    assert len(loaded) in (30, 50)
    assert len([p for p in path.iterdir() if p.name.startswith("gen-")]) == 1
    assert not [p for p in path.iterdir() if p.name.endswith(".tmp")]


def test_loads_during_saves_always_see_a_whole_index(tmp_path: Path) -> None:
    """A reader holds the read lock, so a concurrent commit cannot delete what it reads."""
    import threading

    path = _index(30).save(tmp_path / "idx")
    writer_index, stop, errors = _index(50), threading.Event(), []

    def write() -> None:
        while not stop.is_set():
            writer_index.save(path)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        for _ in range(40):
            try:
                assert len(Index.load(path, encoder=HashEncoder())) in (30, 50)
            except Exception as exc:
                errors.append(exc)
    finally:
        stop.set()
        thread.join()
    assert errors == []


def test_an_index_whose_documents_have_no_bm25_terms_loads(tmp_path: Path) -> None:
    """Stop words alone give BM25 nothing to index: it saves no model, and loading must not
    take that for a damaged index (it once raised IndexFormatError here)."""
    index = Index.build(["the a", "of an", "and it"], HashEncoder(), ids=["1", "2", "3"])
    again = Index.load(index.save(tmp_path / "ix"), encoder=HashEncoder())
    assert again.ids == ["1", "2", "3"]
    assert again.search("the", 3, mode="bm25") == []
    assert [h.id for h in again.search("the a", 3, mode="dense")] == [
        h.id for h in index.search("the a", 3, mode="dense")
    ]
    again.add(["flutter of panels"], ids=["4"])  # a term arrives: BM25 rebuilds and finds it
    assert [h.id for h in again.search("flutter", 3, mode="bm25")] == ["4"]


FORMAT1 = Path(__file__).resolve().parents[1] / "data" / "format1-index"
"""An index saved in format 1 (documents.jsonl, bm25s files) by shortlist at 86b795f, one
document deleted before the save; the searches below are what that version returned."""


def test_a_format_1_index_loads_searches_as_before_and_saves_as_format_2(
    tmp_path: Path,
) -> None:
    import shutil

    path = tmp_path / "old"
    shutil.copytree(FORMAT1, path)
    index = Index.load(path, encoder=HashEncoder())
    assert len(index) == 11 and "d4" not in index and index.get(["d3"])[0].metadata == {"i": 3}
    said_before = {
        "wing flutter": [("d0", 0.913006), ("d3", 0.913006), ("d6", 0.913006), ("d9", 0.913006)],
        "boundary layer": [(f"d{i}", 0.437503) for i in (1, 2, 5, 7, 8)],
    }
    for query, expected in said_before.items():
        got = [(h.id, h.bm25_score) for h in index.search(query, 5, mode="bm25")]
        assert [g[0] for g in got] == [e[0] for e in expected]
        assert [g[1] for g in got] == pytest.approx([e[1] for e in expected], abs=1e-6)
    index.save(path)
    assert json.loads((path / "manifest.json").read_text())["format_version"] == 2
    again = Index.load(path, encoder=HashEncoder())
    assert again.ids == index.ids
    assert [h.id for h in again.search("wing flutter", 5, mode="bm25")] == ["d0", "d3", "d6", "d9"]


def test_a_graph_saves_few_deletions_as_a_list_and_rebuilds_past_a_tenth(tmp_path: Path) -> None:
    """HNSW cannot remove vectors: deleted ones are masked. A save lists them while they
    are under a tenth of the graph (a rebuild takes minutes at a million vectors) and
    rebuilds the graph without them past that; either way they never come back."""
    index = _index(60, spec="hnsw")
    index.delete(["d1", "d2", "d3"])
    path = index.save(tmp_path / "idx")
    manifest = json.loads((path / "manifest.json").read_text())
    assert "tombstones.npy" in manifest["files"]
    loaded = Index.load(path, encoder=HashEncoder())
    assert isinstance(loaded, Index) and loaded._faiss_index.ntotal == 60
    assert loaded._store.tombstones == {1, 2, 3}
    found = {h.id for h in loaded.search("text 2", 60, mode="dense")}
    assert found == {f"d{i}" for i in range(60)} - {"d1", "d2", "d3"}
    loaded.delete([f"d{i}" for i in range(4, 10)])  # 9 of 60: still under a tenth
    loaded.delete(["d10"])  # 10 of 60: the next save rebuilds
    loaded.save(path)
    again = Index.load(path, encoder=HashEncoder())
    assert isinstance(again, Index) and again._faiss_index.ntotal == 50
    assert not again._store.tombstones
    manifest = json.loads((path / "manifest.json").read_text())
    assert "tombstones.npy" not in manifest["files"]
    assert {h.id for h in again.search("text 20", 60, mode="dense")} == set(again.ids)
