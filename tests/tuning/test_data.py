"""Training data, the split and mined negatives: the parts of ``shortlist tune`` that decide
what the model learns from, tested without training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shortlist.errors import InvalidInputError, TrainingDataError
from shortlist.evaluation.beir import load_beir
from shortlist.index import Index
from shortlist.tuning import Window, load_training_data, split_queries
from shortlist.tuning.data import MIN_QUERIES, text_key
from shortlist.tuning.negatives import mine_negatives, training_pairs

DOCS = {str(i): f"document number {i} about topic {i % 7}" for i in range(40)}


def _jsonl(tmp_path: Path, rows: list[Any]) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n",
        encoding="utf-8",
    )
    return path


def _good_rows(n: int = MIN_QUERIES) -> list[dict[str, Any]]:
    return [
        {"query": f"query {i}", "positive_id": str(i), "negative_ids": [str(i + 20)]}
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"query": "", "positive_id": "1"}, "'query' must be a non-empty text"),
        ({"query": "q", "positive_id": "nope"}, "unknown document id 'nope'"),
        ({"query": "q", "document_id": "1", "label": 1.5}, "label 1.5 is out of range"),
        ({"query": "q", "document_id": "1", "label": "yes"}, "'label' must be a number"),
        ({"query": "q", "document_id": "1", "label": float("nan")}, "'label' must be a number"),
        ({"query": "q", "positive": "  "}, "'positive' must be a non-empty text"),
        ({"query": "q", "positive_id": "1", "negative_ids": "2"}, "must be a list"),
        ({"query": "q", "text": "x"}, "expected {query, positive"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_rows_name_the_line(tmp_path: Path, bad: Any, message: str) -> None:
    rows: list[Any] = _good_rows()
    rows.insert(2, bad)
    with pytest.raises(TrainingDataError, match=message) as info:
        load_training_data(_jsonl(tmp_path, rows), DOCS)
    assert "data.jsonl:3:" in str(info.value)
    assert isinstance(info.value, InvalidInputError)


def test_contradicting_judgments_are_refused(tmp_path: Path) -> None:
    rows = [*_good_rows(), {"query": "query 0", "document_id": "0", "label": 0}]
    with pytest.raises(TrainingDataError, match=r"data.jsonl:11: this document is judged 0"):
        load_training_data(_jsonl(tmp_path, rows), DOCS)


def test_too_few_queries(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match=f"9 queries .* at least {MIN_QUERIES}"):
        load_training_data(_jsonl(tmp_path, _good_rows(9)), DOCS)


def test_missing_path_and_bad_beir_folder(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="does not exist"):
        load_training_data(tmp_path / "nothing.jsonl", DOCS)
    with pytest.raises(TrainingDataError, match=r"queries\.jsonl"):
        load_training_data(tmp_path, DOCS)


def test_texts_rows_merge_by_query_and_map_to_index_documents(tmp_path: Path) -> None:
    rows = [
        *_good_rows(),
        {"query": "query 0", "positive": DOCS["5"], "negatives": ["a text the index lacks"]},
        {"query": "query 0", "document": "another outside text", "label": 0.5},
    ]
    data = load_training_data(_jsonl(tmp_path, rows), DOCS)
    assert len(data.queries) == MIN_QUERIES  # rows sharing a query are one query
    q0 = data.queries["q1"]
    assert q0.query == "query 0" and q0.where.endswith("data.jsonl:1")
    assert q0.labels["0"] == 1.0 and q0.labels["5"] == 1.0  # identical text = index doc 5
    assert q0.labels[text_key("a text the index lacks")] == 0.0
    assert q0.labels[text_key("another outside text")] == 0.5
    assert data.texts[text_key("another outside text")] == "another outside text"


def test_beir_folder(cranfield_path: Path, cranfield_index: Index) -> None:
    documents = {d.id: d.text for d in cranfield_index.get(cranfield_index.ids)}
    data = load_training_data(cranfield_path, documents)
    assert len(data.queries) == len(load_beir(cranfield_path).queries)
    sample = next(iter(data.queries.values()))
    assert sample.positives and all(k in documents for k in sample.labels)


def test_split_is_by_query_seeded_and_complete() -> None:
    ids = [f"q{i}" for i in range(50)]
    split = split_queries(ids, (0.6, 0.2, 0.2), seed=3)
    sets = [set(split.train), set(split.dev), set(split.test)]
    assert sum(map(len, sets)) == 50 and set().union(*sets) == set(ids)
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert (len(split.train), len(split.dev), len(split.test)) == (30, 10, 10)
    assert split_queries(list(reversed(ids)), seed=3) == split  # input order does not matter
    assert split_queries(ids, seed=4).test != split.test
    with pytest.raises(InvalidInputError, match="sum to 1"):
        split_queries(ids, (0.5, 0.2, 0.2))


def test_pairs_come_from_train_queries_only(tmp_path: Path) -> None:
    data = load_training_data(_jsonl(tmp_path, _good_rows(20)), DOCS)
    split = split_queries(list(data.queries), seed=0)
    pairs = training_pairs(data, split.train, {}, DOCS)
    held_out = {data.queries[q].query for q in split.dev + split.test}
    assert pairs and not {p[0] for p in pairs} & held_out


def test_mined_negatives_exclude_judged_documents(
    cranfield_path: Path, cranfield_index: Index
) -> None:
    documents = {d.id: d.text for d in cranfield_index.get(cranfield_index.ids)}
    data = load_training_data(cranfield_path, documents)
    ids = list(data.queries)[:20]
    mined = mine_negatives(cranfield_index, data, ids, window="1:30", per_query=10)
    leaked = 0
    for qid in ids:
        assert len(mined[qid]) <= 10
        leaked += len(set(mined[qid]) & set(data.queries[qid].labels))
        top = [h.id for h in cranfield_index.search(data.queries[qid].query, 30)]
        assert all(d in top for d in mined[qid])  # from the window, best-ranked first
        assert mined[qid] == [d for d in top if d not in data.queries[qid].labels][:10]
    assert leaked == 0
    later = mine_negatives(cranfield_index, data, ids[:3], window="11:30", per_query=50)
    for qid in ids[:3]:
        # ranks 1-10 of the same depth-30 ranking (a hybrid top 10 is not a top 30's prefix)
        first10 = {h.id for h in cranfield_index.search(data.queries[qid].query, 30)[:10]}
        assert not set(later[qid]) & first10


def test_window_parsing() -> None:
    assert Window.parse("5:40") == Window(5, 40) and str(Window.parse("30")) == "1:30"
    for bad in ("0:10", "10:5", "a:b"):
        with pytest.raises(InvalidInputError):
            Window.parse(bad)
