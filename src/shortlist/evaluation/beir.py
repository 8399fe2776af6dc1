"""Load a BEIR-format test collection: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

Documents are read by :func:`shortlist.loaders.read_jsonl_corpus`, so an evaluated
document has exactly the text an indexed one would (title + newline + body). Queries that
cannot be scored -- no judgments at all, or judgments that are all non-relevant (grade
<= 0, where nDCG and recall are undefined) -- are excluded and *listed* in
:attr:`Dataset.excluded`, never dropped silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from shortlist._validate import positive_int
from shortlist.documents import Document
from shortlist.errors import InvalidInputError
from shortlist.loaders import json_objects, read_jsonl_corpus

NO_JUDGMENTS = "no judgments"
NO_RELEVANT = "no relevant document (all grades <= 0)"
NO_TEXT = "judged, but missing from queries.jsonl"


@dataclass(frozen=True)
class Dataset:
    """A test collection ready to evaluate against; immutable.

    Attributes:
        name: folder name (``cranfield``).
        corpus: every document, empty ones included (they are real data).
        queries: ``{query id: text}`` for the evaluated queries only, in file order.
        qrels: ``{query id: {doc id: grade}}`` for the evaluated queries; grade > 0 is relevant.
        excluded: ``{query id: reason}`` for queries that cannot be evaluated.
        unknown_docs: judged doc ids absent from the corpus (they still count as relevant,
            as in trec_eval, so recall is not inflated).
    """

    name: str
    corpus: tuple[Document, ...]
    queries: Mapping[str, str]
    qrels: Mapping[str, Mapping[str, int]]
    excluded: Mapping[str, str] = field(default_factory=dict)
    unknown_docs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "queries", MappingProxyType(dict(self.queries)))
        object.__setattr__(
            self,
            "qrels",
            MappingProxyType({q: MappingProxyType(dict(j)) for q, j in self.qrels.items()}),
        )
        object.__setattr__(self, "excluded", MappingProxyType(dict(self.excluded)))
        missing = [q for q in self.queries if q not in self.qrels]
        if missing:
            raise InvalidInputError(f"Queries without qrels cannot be evaluated: {missing[:5]}.")

    def head(self, limit: int | None) -> Dataset:
        """The first ``limit`` evaluated queries (file order) over the full corpus."""
        limit = positive_int("query limit", limit, allow_none=True)
        if limit is None or limit >= len(self.queries):
            return self
        keep = list(self.queries)[:limit]
        return Dataset(
            name=self.name,
            corpus=self.corpus,
            queries={q: self.queries[q] for q in keep},
            qrels={q: self.qrels[q] for q in keep},
            excluded=self.excluded,
            unknown_docs=self.unknown_docs,
        )

    def describe(self) -> str:
        """One line: counts, and what was excluded and why."""
        line = (
            f"{self.name}: {len(self.corpus)} documents, {len(self.queries)} evaluated queries, "
            f"{sum(len(j) for j in self.qrels.values())} judgments"
        )
        if self.excluded:
            reasons: dict[str, int] = {}
            for reason in self.excluded.values():
                reasons[reason] = reasons.get(reason, 0) + 1
            line += "; excluded " + ", ".join(f"{n} ({r})" for r, n in reasons.items())
        if self.unknown_docs:
            line += f"; {len(self.unknown_docs)} judged doc ids not in the corpus"
        return line


def load_beir(path: str | os.PathLike[str], split: str = "test") -> Dataset:
    """Read a BEIR folder; raises :class:`InvalidInputError` naming the file and line."""
    root = Path(path)
    files = {
        "corpus": root / "corpus.jsonl",
        "queries": root / "queries.jsonl",
        "qrels": root / "qrels" / f"{split}.tsv",
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise InvalidInputError(
            f"{root} is not a BEIR dataset folder for split {split!r}: missing "
            f"{', '.join(missing)}. Expected corpus.jsonl, queries.jsonl and qrels/{split}.tsv."
        )
    corpus = tuple(read_jsonl_corpus(files["corpus"]))
    ids = {d.id for d in corpus}
    if len(ids) != len(corpus):
        raise InvalidInputError(f"{files['corpus']}: document ids are not unique.")
    texts = _read_queries(files["queries"])
    judgments = read_qrels(files["qrels"])

    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    excluded: dict[str, str] = {}
    for qid, text in texts.items():
        if qid not in judgments:
            excluded[qid] = NO_JUDGMENTS
        elif not any(g > 0 for g in judgments[qid].values()):
            excluded[qid] = NO_RELEVANT
        else:
            queries[qid], qrels[qid] = text, judgments[qid]
    for qid in judgments:
        if qid not in texts:
            excluded[qid] = NO_TEXT
    unknown = sorted({d for j in qrels.values() for d in j if d not in ids})
    if not queries:
        raise InvalidInputError(
            f"{root}: no query has a relevant judgment in qrels/{split}.tsv; nothing to evaluate."
        )
    return Dataset(root.resolve().name, corpus, queries, qrels, excluded, tuple(unknown))


def _read_queries(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for lineno, row in json_objects(path):
        qid, text = row.get("_id", row.get("id")), row.get("text")
        if qid is None or not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"{path}:{lineno}: query needs an '_id' and non-empty text.")
        if str(qid) in out:
            raise InvalidInputError(f"{path}:{lineno}: duplicate query id {qid!r}.")
        out[str(qid)] = text
    return out


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read BEIR qrels (``query-id<TAB>corpus-id<TAB>score``, optional header).

    TREC's four-column form (``qid iteration docid grade``, whitespace-separated) is also
    accepted. A pair judged twice is an error: which grade would win is not defined.
    """
    out: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts or (lineno == 1 and parts[0] in ("query-id", "query_id", "qid")):
                continue
            if len(parts) == 3:
                qid, did, grade = parts
            elif len(parts) == 4:
                qid, _, did, grade = parts
            else:
                raise InvalidInputError(
                    f"{path}:{lineno}: expected 'query-id corpus-id score' (or TREC's "
                    f"'qid 0 docid grade'), got {line.rstrip()!r}."
                )
            try:
                value = int(float(grade))
            except ValueError:
                raise InvalidInputError(
                    f"{path}:{lineno}: relevance grade must be an integer, got {grade!r}."
                ) from None
            if float(grade) != value:
                raise InvalidInputError(
                    f"{path}:{lineno}: relevance grade must be an integer, got {grade!r}."
                )
            if did in out.setdefault(qid, {}):
                raise InvalidInputError(f"{path}:{lineno}: ({qid}, {did}) is judged twice.")
            out[qid][did] = value
    return out
