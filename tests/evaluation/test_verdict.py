"""Verdict wording on constructed rows: pays, does not pay, hurts, and what fusion does."""

from __future__ import annotations

import pytest

from shortlist.evaluation.results import STAGE1_ROW, Latency, Row
from shortlist.evaluation.verdict import NEGLIGIBLE, verdicts

LAT = Latency(10.0, 20.0, 12.0)


def row(n: int, system: str, ndcg: float, *, fusion: str | None = None) -> Row:
    reranker = None if system == STAGE1_ROW else system.split(" + ")[0]
    per_query = {str(i): ndcg for i in range(40)}
    return Row(
        n, system, reranker, fusion, ndcg, 0.5, 0.5, None, LAT,
        None if reranker is None else LAT, 10.0, per_query,
    )  # fmt: skip


def judge(plain: dict[int, float], fused: dict[int, float] | None = None) -> str:
    rows = [row(n, STAGE1_ROW, 0.40) for n in plain]
    rows += [row(n, "r", v) for n, v in plain.items()]
    rows += [row(n, "r + rrf", v, fusion="rrf:k=60") for n, v in (fused or {}).items()]
    (verdict,) = verdicts(rows, ["r"], 10)
    return verdict.text


@pytest.mark.parametrize(
    ("plain", "fused", "expect"),
    [
        ({20: 0.45, 50: 0.46}, None, "r: pays -- nDCG@10 0.460 vs 0.400"),
        ({20: 0.45, 50: 0.45}, None, "at N=20"),  # a tie goes to the cheaper N
        ({20: 0.40 + NEGLIGIBLE / 2}, None, "r: does not pay"),
        ({20: 0.30}, {20: 0.42}, "fusion (rrf:k=60) rescues it: 0.420 (+0.020)"),
        ({20: 0.30}, {20: 0.401}, "brings it back to stage-1 level"),
        ({20: 0.30}, {20: 0.35}, "does not rescue it"),
        ({20: 0.45}, {20: 0.47}, "does better still: 0.470"),
        ({20: 0.45}, {20: 0.43}, "fusion (rrf:k=60) gives: 0.430"),
    ],
)
def test_wording(plain: dict[int, float], fused: dict[int, float] | None, expect: str) -> None:
    assert expect in judge(plain, fused)


def test_hurts_and_few_queries_are_flagged() -> None:
    rows = [row(20, STAGE1_ROW, 0.4), row(20, "r", 0.3)]
    rows[1].per_query_ndcg.clear()
    rows[1].per_query_ndcg.update({"a": 0.3, "b": 0.3})
    (verdict,) = verdicts(rows, ["r"], 10)
    assert verdict.outcome == "hurts" and verdict.gain == pytest.approx(-0.1)
    assert verdict.fusion_rescues is None
    assert verdict.text.endswith("Only 2 queries: a hint, not a verdict.")
