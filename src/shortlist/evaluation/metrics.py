"""Ranking metrics on graded judgments, in plain numpy, with trec_eval's definitions.

* ``nDCG@k``: linear gain (the grade itself; grades <= 0 gain nothing), log2 discount
  ``1 / log2(rank + 1)``; the ideal ranking is every judged document sorted by grade.
  This is trec_eval's ``ndcg_cut_k`` and ir-measures' ``nDCG@k``.
* ``MRR@k``: ``1 / rank`` of the first relevant document (grade > 0) in the top ``k``, else 0.
* ``Recall@k``: relevant documents in the top ``k`` / all relevant documents of the query
  (judged relevant documents missing from the corpus still count in the denominator).

A ranking is the list of doc ids **in the order the system returned them**; scores play
no part. (trec_eval re-sorts by score and breaks ties by doc id, descending; to compare
with it, give it strictly decreasing scores derived from rank -- see
:func:`as_trec_run`.) A repeated id keeps only its first position, as a run file can
hold each document once per query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from shortlist._validate import positive_int
from shortlist.errors import InvalidInputError

Ranking = Sequence[str]
Judgments = Mapping[str, int]


def _top(ranking: Ranking, k: int) -> list[str]:
    return list(dict.fromkeys(ranking))[: positive_int("cutoff k", k)]


def _discounts(n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def ndcg(ranking: Ranking, judgments: Judgments, k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` (0 when nothing is relevant)."""
    top = _top(ranking, k)
    gains = np.array([max(judgments.get(d, 0), 0) for d in top], dtype=np.float64)
    ideal = np.sort(np.array([g for g in judgments.values() if g > 0], dtype=np.float64))[::-1]
    ideal = ideal[:k]
    idcg = float(ideal @ _discounts(len(ideal)))
    if idcg == 0.0:
        return 0.0
    return float(gains @ _discounts(len(gains))) / idcg


def reciprocal_rank(ranking: Ranking, judgments: Judgments, k: int) -> float:
    """Reciprocal rank of the first relevant document within the top ``k`` (else 0)."""
    for rank, doc in enumerate(_top(ranking, k), 1):
        if judgments.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def recall(ranking: Ranking, judgments: Judgments, k: int) -> float:
    """Share of the query's relevant documents found in the top ``k`` (0 if it has none)."""
    relevant = {d for d, g in judgments.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_top(ranking, k))) / len(relevant)


MEASURES: dict[str, Callable[[Ranking, Judgments, int], float]] = {
    "ndcg": ndcg,
    "mrr": reciprocal_rank,
    "rr": reciprocal_rank,
    "recall": recall,
    "r": recall,
}
_NAMES = {"ndcg": "nDCG", "mrr": "MRR", "rr": "MRR", "recall": "Recall", "r": "Recall"}
_SPEC = re.compile(r"^\s*([A-Za-z]+)\s*@\s*(\d+)\s*$")


def parse_measure(spec: str) -> tuple[str, Callable[[Ranking, Judgments, int], float], int]:
    """``"nDCG@10"`` -> (canonical name, function, k); also MRR@k / RR@k, Recall@k / R@k."""
    match = _SPEC.match(spec)
    fn = MEASURES.get(match.group(1).lower()) if match else None
    k = int(match.group(2)) if match else 0
    if match is None or fn is None or k < 1:
        raise InvalidInputError(
            f"Unknown measure {spec!r}; use nDCG@k, MRR@k or Recall@k (k a positive integer)."
        )
    return f"{_NAMES[match.group(1).lower()]}@{k}", fn, k


def per_query(
    run: Mapping[str, Ranking], qrels: Mapping[str, Judgments], measures: Sequence[str]
) -> dict[str, dict[str, float]]:
    """``{measure: {query id: value}}`` for every query in ``qrels``.

    A query the run has no ranking for scores 0 (trec_eval ``-c``): a system that returns
    nothing must not look better by shrinking the denominator.
    """
    out: dict[str, dict[str, float]] = {}
    for spec in measures:
        name, fn, k = parse_measure(spec)
        out[name] = {q: fn(run.get(q, ()), j, k) for q, j in qrels.items()}
    return out


def mean_scores(
    run: Mapping[str, Ranking], qrels: Mapping[str, Judgments], measures: Sequence[str]
) -> dict[str, float]:
    """Mean of each measure over the queries in ``qrels`` (see :func:`per_query`)."""
    return {
        name: float(np.mean(list(values.values()))) if values else 0.0
        for name, values in per_query(run, qrels, measures).items()
    }


def as_trec_run(run: Mapping[str, Ranking]) -> dict[str, dict[str, float]]:
    """A ranking as ``{qid: {doc: score}}`` with scores strictly decreasing by rank.

    For feeding trec_eval / pytrec_eval / ir-measures: their tie-breaking (by doc id) can
    then never reorder what the system returned.
    """
    return {
        q: {d: float(len(docs) - i) for i, d in enumerate(dict.fromkeys(docs))}
        for q, docs in run.items()
    }
