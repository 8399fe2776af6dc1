"""The manifest is input: a crafted one never reads outside the folder or loses documents.

Also: the document store's bookkeeping, and two threads adding one id (one must lose).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shortlist import Document, Index, IndexFormatError, InvalidInputError
from shortlist.index import ShardedIndex, load_index
from shortlist.index.docstore import DocStore
from tests.unit.toy import HashEncoder


def _saved(tmp_path: Path, n: int = 20) -> Path:
    index = Index.build(
        [f"text {i}" for i in range(n)], HashEncoder(), ids=[f"d{i}" for i in range(n)]
    )
    return index.save(tmp_path / "idx")


def _edit(path: Path, **changes: Any) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(changes)
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "generation",
    ["../other-index/gen-0123456789ab", "/etc", "gen-../../etc", "..", "gen-0123456789abX"],
)
def test_a_generation_outside_the_folder_is_refused(tmp_path: Path, generation: str) -> None:
    path = _saved(tmp_path)
    _edit(path, generation=generation)
    with pytest.raises(IndexFormatError, match="refusing to read outside the index folder"):
        Index.load(path, encoder=HashEncoder())


@pytest.mark.parametrize(
    "files",
    [
        {"../../etc/passwd": "0" * 64, "documents.rows.npy": "0" * 64},
        {"/etc/shadow": "0" * 64},
        {"index.faiss": "0" * 64, "documents.rows.npy": "0" * 64, "extra": "0" * 64},
    ],
)
def test_file_names_other_than_ours_are_refused(tmp_path: Path, files: dict[str, str]) -> None:
    path = _saved(tmp_path)
    _edit(path, files=files)
    with pytest.raises(IndexFormatError, match="files must list exactly"):
        Index.load(path, encoder=HashEncoder())


def test_a_symlinked_generation_is_refused(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    real = path / manifest["generation"]
    moved = real.rename(tmp_path / "elsewhere")
    real.symlink_to(moved, target_is_directory=True)
    with pytest.raises(IndexFormatError, match="is missing"):
        Index.load(path, encoder=HashEncoder())


def test_a_flipped_byte_in_the_manifest_is_a_format_error(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    raw = bytearray((path / "manifest.json").read_bytes())
    raw[10] = 0xFF  # not UTF-8 any more
    (path / "manifest.json").write_bytes(bytes(raw))
    with pytest.raises(IndexFormatError, match="corrupt"):
        Index.load(path, encoder=HashEncoder())


@pytest.mark.parametrize(
    ("field", "value"), [("next_key", 5), ("next_key", "20"), ("count", True), ("encoder", [])]
)
def test_malformed_fields_are_refused(tmp_path: Path, field: str, value: object) -> None:
    """A lowered next_key would let the next add() overwrite documents under reused keys."""
    path = _saved(tmp_path)
    _edit(path, **{field: value})
    with pytest.raises(IndexFormatError):
        Index.load(path, encoder=HashEncoder())


def _resum(path: Path) -> None:
    """Update the manifest's checksums after damaging a file, so only deeper checks see it."""
    manifest = json.loads((path / "manifest.json").read_text())
    folder = path / manifest["generation"]
    manifest["files"] = {
        n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in manifest["files"]
    }
    (path / "manifest.json").write_text(json.dumps(manifest))


def _rewrite(path: Path, name: str, change: Callable[[bytes], bytes]) -> None:
    file = path / json.loads((path / "manifest.json").read_text())["generation"] / name
    file.write_bytes(change(file.read_bytes()))
    _resum(path)


DAMAGE: list[tuple[str, Callable[[Path], None], str]] = [
    (
        "truncated index.faiss",
        lambda p: _rewrite(p, "index.faiss", lambda b: b[:100]),
        "index.faiss: FAISS cannot read it",
    ),
    (
        "invalid UTF-8 in a document id",
        lambda p: _rewrite(p, "documents.arena.npy", lambda b: b.replace(b"d3", b"d\xff")),
        "document row 4 is malformed",
    ),
    (
        "an offset past the arena",
        lambda p: _rewrite(p, "documents.arena.npy", lambda b: b[:-8]),
        "not a NumPy array file|inconsistent",
    ),
    ("factory null with documents", lambda p: _edit(p, factory=None), "factory is null"),
    ("next_key = 10**30", lambda p: _edit(p, next_key=10**30), "next_key"),
    ("next_key negative", lambda p: _edit(p, next_key=-1), "next_key"),
]


@pytest.mark.parametrize(("case", "damage", "message"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_damage_behind_a_valid_checksum_is_a_format_error_at_load(
    tmp_path: Path, case: str, damage: Callable[[Path], None], message: str
) -> None:
    """Each used to load and fail later, or raise faiss's / Python's own error."""
    path = _saved(tmp_path)
    damage(path)
    with pytest.raises(IndexFormatError, match=message) as caught:
        Index.load(path, encoder=HashEncoder())
    assert "restore it from a backup, or rebuild it" in str(caught.value)


def test_index_load_opens_a_sharded_index_too(tmp_path: Path) -> None:
    sharded = ShardedIndex.build(
        [f"text {i}" for i in range(12)], HashEncoder(), shards=3, ids=[f"d{i}" for i in range(12)]
    )
    path = sharded.save(tmp_path / "sharded")
    loaded = Index.load(path, encoder=HashEncoder())
    assert isinstance(loaded, ShardedIndex) and loaded.shards == 3
    assert loaded.ids == sharded.ids
    assert [h.id for h in loaded.search("text 4", 3)] == [h.id for h in sharded.search("text 4", 3)]
    assert load_index(path, encoder=HashEncoder()).ids == sharded.ids  # the same function
    assert isinstance(Index.load(_saved(tmp_path), encoder=HashEncoder()), Index)


@pytest.mark.parametrize(("field", "value"), [("next_key", 10**30), ("spec", None), ("shards", [])])
def test_a_damaged_sharded_manifest_is_a_format_error(
    tmp_path: Path, field: str, value: object
) -> None:
    """The sharded manifest goes through the same verification as a single index's."""
    path = ShardedIndex.build(["a", "b"], HashEncoder(), ids=["a", "b"]).save(tmp_path / "s")
    manifest = json.loads((path / "shards.json").read_text())
    manifest[field] = value
    (path / "shards.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="restore it from a backup"):
        Index.load(path, encoder=HashEncoder())


def test_docstore_keys_are_never_reused() -> None:
    store = DocStore()
    first = store.assign([Document("a", "x"), Document("b", "y")])
    assert store.remove(store.keys_of(["a", "missing"])) == 1
    second = store.assign([Document("a", "x again")])
    assert first.tolist() == [0, 1] and second.tolist() == [2]
    assert [d.text for d in store.get(["a", "b"])] == ["x again", "y"]
    assert store.taken([Document("b", "z"), Document("c", "z")]) == ["b"]
    arena = np.frombuffer(b"".join(store.arena_chunks(rows_per_chunk=1)), dtype=np.uint8)
    rebuilt = DocStore.from_arrays(store.live_rows(), arena, store.next_key, "mem")
    assert rebuilt.get(["a", "b"]) == store.get(["a", "b"])
    assert rebuilt.ids == store.ids and rebuilt.next_key == 3


def test_docstore_rows_with_a_repeated_id_are_corrupt() -> None:
    rows = [
        {"key": 0, "id": "a", "text": "x", "metadata": {}},
        {"key": 1, "id": "a", "text": "y", "metadata": {}},
    ]
    with pytest.raises(IndexFormatError, match="repeats an id"):
        DocStore.from_rows(rows, 2, "mem")


def test_two_threads_adding_one_new_id_leave_one_document(tmp_path: Path) -> None:
    """Both used to succeed: two rows for one id, and a delete later resurrected one."""
    encoder = HashEncoder()
    index = Index(encoder)
    index.add(["seed"], ids=["seed"])
    barrier, errors, vec = threading.Barrier(2), [], encoder.encode_documents(["same"])

    def add() -> None:
        barrier.wait()
        try:
            index.add([Document("same", "same")], embeddings=vec)
        except InvalidInputError as exc:
            errors.append(exc)

    for _ in range(50):
        threads = [threading.Thread(target=add) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(errors) == 1 and len(index) == 2
        assert index.delete(["same"]) == 1
        errors.clear()
    index.save(tmp_path / "idx")
    assert Index.load(tmp_path / "idx", encoder=encoder).ids == ["seed"]


def test_get_takes_a_list_not_a_string() -> None:
    index = Index.build(["x"], HashEncoder(), ids=["d1"])
    with pytest.raises(InvalidInputError, match=r"list of ids.*\['d1'\]"):
        index.get("d1")
