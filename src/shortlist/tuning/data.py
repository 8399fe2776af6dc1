"""Training data for ``shortlist tune``: judged queries, read from a BEIR folder or JSONL.

Two shapes, because teams have one or the other:

* a BEIR folder (``queries.jsonl`` + ``qrels/<split>.tsv``) whose corpus is already in the
  index: judgments name index document ids; grade > 0 is relevant;
* a JSONL file, one object per line, either ``{"query", "positive", "negatives"?}`` or
  ``{"query", "document", "label"}`` (label 0..1). Documents are texts, or index ids with
  the ``_id`` spelling (``positive_id``, ``negative_ids``, ``document_id``). Rows that
  share a query text are one query.

A text that is also a document of the index (same text) is that document, so that the
held-out judgement can find it among stage-1 candidates and mined negatives never
include it. Every error names the file and line and says what to write instead.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shortlist.errors import InvalidInputError, TrainingDataError
from shortlist.loaders import json_objects

MIN_QUERIES = 10
"""Fewer judged queries cannot be split into train / dev / test that mean anything."""

TEXT_KEY = "text:"
"""Key prefix of a judged text that is not a document of the index."""


@dataclass(frozen=True)
class Judged:
    """One query and its judged documents: document key -> label in 0..1 (1 = relevant)."""

    query: str
    labels: dict[str, float]
    where: str

    @property
    def positives(self) -> list[str]:
        return [k for k, v in self.labels.items() if v > 0]


@dataclass(frozen=True)
class TrainingData:
    """Judged queries by id, and the text of every judged document key."""

    queries: dict[str, Judged]
    texts: dict[str, str]
    source: str
    dropped: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        pairs = sum(len(j.labels) for j in self.queries.values())
        positives = sum(len(j.positives) for j in self.queries.values())
        line = (
            f"{self.source}: {len(self.queries)} judged queries, {pairs} judgments "
            f"({positives} relevant)"
        )
        if self.dropped:
            line += f"; {len(self.dropped)} queries without a relevant document left out"
        return line + "."


def text_key(text: str) -> str:
    """The key of a judged text that the index does not hold."""
    return TEXT_KEY + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_training_data(
    path: str | os.PathLike[str], documents: dict[str, str], *, split: str = "test"
) -> TrainingData:
    """Read ``path`` (BEIR folder or JSONL file) against the index's ``documents`` (id -> text)."""
    root = Path(path)
    if root.is_dir():
        data = _read_beir(root, documents, split)
    elif root.is_file():
        data = _read_jsonl(root, documents)
    else:
        raise TrainingDataError(
            f"{root} does not exist. Pass a BEIR folder (queries.jsonl + qrels/{split}.tsv) "
            "or a JSONL file of {query, positive, negatives} or {query, document, label} rows."
        )
    if len(data.queries) < MIN_QUERIES:
        raise TrainingDataError(
            f"{root}: {len(data.queries)} queries have a relevant document; tuning needs at "
            f"least {MIN_QUERIES}, so that each of train, dev and test holds some. Judge more "
            "queries (a few hundred is typical)."
        )
    return data


def _read_beir(root: Path, documents: dict[str, str], split: str) -> TrainingData:
    from shortlist.evaluation.beir import read_qrels

    queries_file, qrels_file = root / "queries.jsonl", root / "qrels" / f"{split}.tsv"
    for f in (queries_file, qrels_file):
        if not f.is_file():
            raise TrainingDataError(
                f"{root} is not a BEIR folder: {f} is missing (expected queries.jsonl and "
                f"qrels/{split}.tsv; the corpus must already be in the index)."
            )
    texts: dict[str, str] = {}
    for lineno, row in _rows(queries_file):
        qid, text = row.get("_id", row.get("id")), row.get("text")
        if qid is None or not isinstance(text, str) or not text.strip():
            raise TrainingDataError(
                f"{queries_file}:{lineno}: a query needs an '_id' and non-empty 'text'."
            )
        texts[str(qid)] = text
    judged: dict[str, Judged] = {}
    dropped: dict[str, str] = {}
    try:
        qrels = read_qrels(qrels_file)
    except InvalidInputError as exc:
        raise TrainingDataError(str(exc)) from None
    for qid, grades in qrels.items():
        where = f"{qrels_file} (query {qid})"
        if qid not in texts:
            raise TrainingDataError(f"{where}: query id {qid!r} is not in {queries_file}.")
        unknown = sorted(d for d in grades if d not in documents)
        if unknown:
            raise TrainingDataError(
                f"{where}: unknown document id {unknown[0]!r} ({len(unknown)} in all): the "
                "qrels must name documents of the index. Index the same corpus first."
            )
        labels = {d: 1.0 if g > 0 else 0.0 for d, g in grades.items()}
        if not any(labels.values()):
            dropped[qid] = "no relevant document"
            continue
        judged[qid] = Judged(texts[qid], labels, where)
    used = {d for j in judged.values() for d in j.labels}
    return TrainingData(judged, {d: documents[d] for d in used}, str(root), dropped)


def _read_jsonl(path: Path, documents: dict[str, str]) -> TrainingData:
    by_text = {text: doc_id for doc_id, text in documents.items()}
    texts: dict[str, str] = {}
    ids: dict[str, str] = {}  # query text -> query id
    labels: dict[str, dict[str, float]] = {}
    first_line: dict[str, int] = {}

    def key_of(value: Any, lineno: int, name: str, by_id: bool) -> str:
        where = f"{path}:{lineno}"
        if by_id:
            if not isinstance(value, str | int) or str(value) not in documents:
                raise TrainingDataError(
                    f"{where}: unknown document id {value!r} in '{name}'; ids must name "
                    "documents of the index (or give the text under the name without _id)."
                )
            return str(value)
        if not isinstance(value, str) or not value.strip():
            raise TrainingDataError(f"{where}: '{name}' must be a non-empty text.")
        if value in by_text:
            return by_text[value]
        key = text_key(value)
        texts[key] = value
        return key

    for lineno, row in _rows(path):
        where = f"{path}:{lineno}"
        query = row.get("query")
        if not isinstance(query, str) or not query.strip():
            raise TrainingDataError(f"{where}: 'query' must be a non-empty text.")
        qid = ids.setdefault(query, f"q{len(ids) + 1}")
        first_line.setdefault(qid, lineno)
        judged = labels.setdefault(qid, {})
        pairs = _row_pairs(row, lineno, where, key_of)
        for key, label in pairs:
            if judged.get(key, label) != label:
                raise TrainingDataError(
                    f"{where}: this document is judged {label:g} here and "
                    f"{judged[key]:g} on an earlier line for the same query."
                )
            judged[key] = label
    queries = {text: qid for text, qid in ids.items()}
    out: dict[str, Judged] = {}
    dropped: dict[str, str] = {}
    for text, qid in queries.items():
        if not any(labels[qid].values()):
            dropped[qid] = "no relevant document"
            continue
        out[qid] = Judged(text, labels[qid], f"{path}:{first_line[qid]}")
    used = {d for j in out.values() for d in j.labels}
    merged = {d: texts[d] if d in texts else documents[d] for d in used}
    return TrainingData(out, merged, str(path), dropped)


def _row_pairs(
    row: dict[str, Any], lineno: int, where: str, key_of: Callable[[Any, int, str, bool], str]
) -> list[tuple[str, float]]:
    """(document key, label) pairs of one JSONL row, in either of the two row shapes."""
    pairs: list[tuple[str, float]] = []
    if "positive" in row or "positive_id" in row:
        by_id = "positive_id" in row
        name = "positive_id" if by_id else "positive"
        pairs.append((key_of(row[name], lineno, name, by_id), 1.0))
        neg_name = "negative_ids" if "negative_ids" in row else "negatives"
        negatives = row.get(neg_name, [])
        if not isinstance(negatives, list):
            raise TrainingDataError(f"{where}: '{neg_name}' must be a list.")
        pairs += [(key_of(n, lineno, neg_name, neg_name == "negative_ids"), 0.0) for n in negatives]
    elif "document" in row or "document_id" in row:
        by_id = "document_id" in row
        name = "document_id" if by_id else "document"
        pairs.append((key_of(row[name], lineno, name, by_id), _label(row, where)))
    else:
        raise TrainingDataError(
            f"{where}: expected {{query, positive, negatives?}} or {{query, document, "
            f"label}} (or their _id forms); got keys {sorted(row)}."
        )
    return pairs


def _label(row: dict[str, Any], where: str) -> float:
    raw = row.get("label")
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise TrainingDataError(f"{where}: 'label' must be a number in 0..1, got {raw!r}.")
    if not 0 <= raw <= 1:
        raise TrainingDataError(
            f"{where}: label {raw!r} is out of range; use 0..1 (1 = relevant, 0 = not). "
            "Map graded judgments to 0..1 first."
        )
    return float(raw)


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    return list(json_objects(path, TrainingDataError))
