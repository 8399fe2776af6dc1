"""load_beir: the shared collections load exactly; broken folders fail with file and line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from shortlist.errors import InvalidInputError
from shortlist.evaluation import Dataset, load_beir
from shortlist.evaluation.beir import NO_JUDGMENTS, NO_RELEVANT, NO_TEXT
from shortlist.loaders import read_jsonl_corpus
from tests.conftest import need


def make_beir(
    root: Path,
    *,
    docs: dict[str, str] | None = None,
    queries: dict[str, str] | None = None,
    qrels: str = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\n",
    split: str = "test",
) -> Path:
    docs = docs if docs is not None else {"d1": "alpha", "d2": "beta", "d3": "gamma"}
    queries = queries if queries is not None else {"q1": "first?", "q2": "second?"}
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in docs.items())
    )
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries.items())
    )
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / f"{split}.tsv").write_text(qrels)
    return root


def test_cranfield_loads_exactly(cranfield_path: Path) -> None:
    data = load_beir(cranfield_path)
    assert data.name == "cranfield"
    assert len(data.corpus) == 1400
    assert len(data.queries) == 225
    assert sum(len(j) for j in data.qrels.values()) == 1612
    assert {g for j in data.qrels.values() for g in j.values()} == {1, 2, 3, 4}
    assert not data.excluded and not data.unknown_docs
    by_id = {d.id: d for d in data.corpus}
    assert by_id["471"].text == by_id["995"].text == ""  # the two empty originals are kept
    # the same documents (title + "\n" + text) an index built by load_documents holds
    assert list(data.corpus) == list(read_jsonl_corpus(cranfield_path / "corpus.jsonl"))
    assert by_id["1"].text.startswith("experimental investigation of the aerodynamics")
    assert "\n" in by_id["1"].text


def test_cisi_loads(cranfield_path: Path) -> None:
    data = load_beir(need(cranfield_path.parent / "cisi"))
    assert (len(data.corpus), len(data.queries)) == (1460, 76)
    assert sum(len(j) for j in data.qrels.values()) == 3114


def test_head_keeps_the_corpus_and_file_order(cranfield_path: Path) -> None:
    data = load_beir(cranfield_path)
    five = data.head(5)
    assert list(five.queries) == ["1", "2", "3", "4", "5"]
    assert list(five.qrels) == list(five.queries)
    assert five.corpus is data.corpus
    assert data.head(None) is data and data.head(10_000) is data
    with pytest.raises(InvalidInputError):
        data.head(0)


def test_dataset_is_immutable(tmp_path: Path) -> None:
    data = load_beir(make_beir(tmp_path))
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        data.queries["q9"] = "new"  # type: ignore[index]
    with pytest.raises(TypeError):
        data.qrels["q1"]["d9"] = 1  # type: ignore[index]


def test_unevaluable_queries_are_excluded_and_listed(tmp_path: Path) -> None:
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq3\td1\t0\nq4\td2\t1\nq1\tgone\t2\n"
    queries = {"q1": "a?", "q2": "b?", "q3": "c?"}
    data = load_beir(make_beir(tmp_path, queries=queries, qrels=qrels))
    assert list(data.queries) == ["q1"]
    assert data.excluded == {"q2": NO_JUDGMENTS, "q3": NO_RELEVANT, "q4": NO_TEXT}
    assert data.unknown_docs == ("gone",)
    assert dict(data.qrels["q1"]) == {"d1": 1, "gone": 2}  # still counts for recall
    text = data.describe()
    assert "1 evaluated queries" in text and "excluded" in text and NO_RELEVANT in text


def test_trec_four_column_qrels_and_other_splits(tmp_path: Path) -> None:
    root = make_beir(tmp_path, qrels="q1 0 d1 3\nq2 0 d3 1\n", split="dev")
    data = load_beir(root, split="dev")
    assert dict(data.qrels["q1"]) == {"d1": 3}
    with pytest.raises(InvalidInputError, match=r"test\.tsv"):
        load_beir(root)


def test_missing_files_are_named(tmp_path: Path) -> None:
    root = make_beir(tmp_path)
    (root / "queries.jsonl").unlink()
    with pytest.raises(InvalidInputError, match=r"queries\.jsonl"):
        load_beir(root)
    with pytest.raises(InvalidInputError, match="not a BEIR dataset"):
        load_beir(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("query-id\tcorpus-id\tscore\nq1\td1\n", r"test\.tsv:2: expected"),
        ("q1\td1\thigh\n", "grade must be an integer"),
        ("q1\td1\t1.5\n", "grade must be an integer"),
        ("q1\td1\t1\nq1\td1\t2\n", "judged twice"),
        ("q2\td2\t0\n", "no query has a relevant judgment"),
    ],
)
def test_bad_qrels(tmp_path: Path, qrels: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        load_beir(make_beir(tmp_path, qrels=qrels))


def test_bad_query_lines_give_the_line_number(tmp_path: Path) -> None:
    root = make_beir(tmp_path)
    with (root / "queries.jsonl").open("a") as fh:
        fh.write("{not json\n")
    with pytest.raises(InvalidInputError, match=r"queries\.jsonl:3"):
        load_beir(root)
    (root / "queries.jsonl").write_text('{"_id": "q1", "text": "a"}\n{"_id": "q1", "text": "b"}\n')
    with pytest.raises(InvalidInputError, match="duplicate query id"):
        load_beir(root)


def test_bad_corpus_is_reported(tmp_path: Path) -> None:
    root = make_beir(tmp_path)
    (root / "corpus.jsonl").write_text('{"_id": "d1", "text": "a"}\n{"title": "no id"}\n')
    with pytest.raises(InvalidInputError, match=r"corpus\.jsonl:2"):
        load_beir(root)
    (root / "corpus.jsonl").write_text('{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}\n')
    with pytest.raises(InvalidInputError, match="not unique"):
        load_beir(root)


def test_dataset_rejects_queries_without_qrels() -> None:
    with pytest.raises(InvalidInputError):
        Dataset("x", (), {"q1": "a"}, {})
