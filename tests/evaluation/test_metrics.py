"""Metrics: hand-computed cases, and agreement with ir-measures (trec_eval) on a real run."""

from __future__ import annotations

import math

import ir_measures
import pytest
from ir_measures import RR, R, nDCG

from shortlist.errors import InvalidInputError
from shortlist.evaluation.metrics import (
    as_trec_run,
    mean_scores,
    ndcg,
    parse_measure,
    per_query,
    recall,
    reciprocal_rank,
)

QRELS = {"a": 3, "b": 2, "c": 1, "z": 0, "neg": -1}


# ----------------------------------------------------------------- hand-computed
def test_ndcg_hand_computed() -> None:
    # DCG  = 1/log2(2) + 3/log2(3) + 0          (c, a, x)
    # IDCG = 3/log2(2) + 2/log2(3) + 1/log2(4)  (a, b, c)
    dcg = 1 + 3 / math.log2(3)
    idcg = 3 + 2 / math.log2(3) + 1 / 2
    assert ndcg(["c", "a", "x"], QRELS, 3) == pytest.approx(dcg / idcg, abs=1e-12)
    assert ndcg(["c", "a", "x"], QRELS, 3) == pytest.approx(0.607491, abs=1e-6)


def test_ndcg_bounds_and_cutoff() -> None:
    assert ndcg(["a", "b", "c"], QRELS, 10) == pytest.approx(1.0)
    assert ndcg(["x", "y"], QRELS, 10) == 0.0
    assert ndcg([], QRELS, 10) == 0.0
    assert ndcg(["x", "a"], QRELS, 1) == 0.0  # relevant doc just below the cutoff
    assert ndcg(["a"], {"a": 0}, 10) == 0.0  # nothing relevant: 0, not NaN


def test_non_positive_grades_gain_nothing() -> None:
    assert ndcg(["z", "neg", "a"], QRELS, 3) == pytest.approx(
        (3 / math.log2(4)) / (3 + 2 / math.log2(3) + 1 / 2)
    )
    assert reciprocal_rank(["z", "neg"], QRELS, 10) == 0.0
    assert recall(["z", "neg"], QRELS, 10) == 0.0


def test_duplicates_keep_their_first_position() -> None:
    assert ndcg(["a", "a", "b"], QRELS, 3) == ndcg(["a", "b"], QRELS, 3)
    assert recall(["a", "a", "a"], QRELS, 2) == pytest.approx(1 / 3)


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(["x", "z", "c", "a"], QRELS, 10) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x", "z", "c"], QRELS, 2) == 0.0


def test_recall_counts_unretrievable_relevant_docs() -> None:
    qrels = {"a": 1, "b": 1, "c": 1, "not-in-corpus": 2}
    assert recall(["a", "x", "b"], qrels, 3) == pytest.approx(2 / 4)
    assert recall(["a", "x", "b"], qrels, 1) == pytest.approx(1 / 4)


def test_order_not_scores_decides() -> None:
    """The ranking is the order returned: swapping two tied documents changes the metric."""
    qrels = {"d1": 1}
    assert reciprocal_rank(["d1", "d2"], qrels, 10) == 1.0
    assert reciprocal_rank(["d2", "d1"], qrels, 10) == 0.5


def test_trec_tie_breaking_is_why_as_trec_run_exists() -> None:
    """trec_eval sorts tied scores by doc id descending; rank-derived scores prevent it."""
    qrels = {"q": {"d1": 1}}
    order = ["d1", "d2"]  # the system returned d1 first, both with the same score
    tied = {"q": {"d1": 0.5, "d2": 0.5}}
    (reordered,) = ir_measures.pytrec_eval.iter_calc([nDCG @ 10], qrels, tied)
    assert reordered.value == pytest.approx(1 / math.log2(3))  # trec_eval put d2 first
    (faithful,) = ir_measures.pytrec_eval.iter_calc([nDCG @ 10], qrels, as_trec_run({"q": order}))
    assert faithful.value == ndcg(order, qrels["q"], 10) == 1.0


def test_per_query_scores_missing_queries_as_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    scores = per_query({"q1": ["a"]}, qrels, ["MRR@10", "nDCG@5"])
    assert scores == {"MRR@10": {"q1": 1.0, "q2": 0.0}, "nDCG@5": {"q1": 1.0, "q2": 0.0}}
    assert mean_scores({"q1": ["a"]}, qrels, ["R@10"]) == {"Recall@10": 0.5}


@pytest.mark.parametrize("spec", ["P@10", "nDCG", "nDCG@0", "nDCG@x", ""])
def test_bad_measure_names(spec: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_measure(spec)


def test_measure_aliases() -> None:
    assert parse_measure("ndcg@10")[0] == "nDCG@10"
    assert parse_measure("RR@5")[0] == parse_measure("mrr@5")[0] == "MRR@5"
    assert parse_measure("R@100")[0] == "Recall@100"


# ----------------------------------------------------------------- real run
@pytest.fixture(scope="module")
def real_run(memo_index, cranfield_path):  # type: ignore[no-untyped-def]
    """The bi-encoder's top 100 for every Cranfield query, plus the qrels."""
    from shortlist.evaluation import load_beir

    data = load_beir(cranfield_path)
    qids = list(data.queries)
    hits = memo_index.search_batch([data.queries[q] for q in qids], 100)
    run = {q: [h.id for h in hs] for q, hs in zip(qids, hits, strict=True)}
    return run, {q: dict(j) for q, j in data.qrels.items()}


def _agree(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> None:
    """Every query, every measure, within 1e-6 of ir-measures and of trec_eval itself."""
    pairs = [
        (nDCG @ 10, "nDCG@10"),
        (nDCG @ 100, "nDCG@100"),
        (nDCG @ 3, "nDCG@3"),
        (RR @ 10, "MRR@10"),
        (RR @ 100, "MRR@100"),
        (R @ 10, "Recall@10"),
        (R @ 100, "Recall@100"),
    ]
    ours = per_query(run, qrels, [name for _, name in pairs])
    trec_run = as_trec_run(run)
    checks = [(ir_measures, m, name) for m, name in pairs]
    # trec_eval's recip_rank has no cutoff (the pytrec_eval provider returns RR@10 = 1/95
    # for a first hit at rank 95), so RR is checked against ir-measures' own provider only.
    checks += [(ir_measures.pytrec_eval, m, name) for m, name in pairs if name[0] != "M"]
    for provider, measure, name in checks:
        rows = list(provider.iter_calc([measure], qrels, trec_run))  # one measure per call
        assert len(rows) == len(qrels)
        for row in rows:
            assert abs(ours[name][row.query_id] - row.value) < 1e-6, (provider, row)


def test_agrees_with_ir_measures_on_a_real_bi_encoder_run(real_run) -> None:  # type: ignore[no-untyped-def]
    run, qrels = real_run
    assert len(run) == 225
    assert 0.2 < mean_scores(run, qrels, ["nDCG@10"])["nDCG@10"] < 0.6
    _agree(run, qrels)


def test_agrees_with_ir_measures_on_reordered_real_runs(real_run) -> None:  # type: ignore[no-untyped-def]
    """Worst-first and doc-id-sorted orders: relevant documents at every depth."""
    run, qrels = real_run
    _agree({q: docs[::-1] for q, docs in run.items()}, qrels)
    _agree({q: sorted(docs) for q, docs in run.items()}, qrels)
