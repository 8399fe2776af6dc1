"""One plain sentence per reranker: does stage 2 pay on this data, and at what cost?

A reranker is judged at its best N (highest nDCG@k; ties go to the smaller, cheaper N)
against stage 1 at the same N:

* **pays** -- it raises nDCG@k by at least :data:`NEGLIGIBLE`;
* **does not pay** -- it raises it by less than that: latency for nothing measurable;
* **hurts** -- it lowers nDCG@k even at its best N.

When it does not pay, the fused variant is checked: fusion "rescues" it when the fused
ranking beats stage 1 by at least :data:`NEGLIGIBLE`.

The per-query win/loss counts are there so a reader can tell a broad gain from a few
lucky queries; on a handful of queries no verdict is more than a hint.
"""

from __future__ import annotations

from collections.abc import Sequence

from shortlist.evaluation.results import FunnelVerdict, Row, Verdict
from shortlist.evaluation.stats import paired

__all__ = ["FEW_QUERIES", "NEGLIGIBLE", "FunnelVerdict", "Verdict", "funnel_verdict", "verdicts"]

NEGLIGIBLE = 0.005
"""nDCG gain below which a reranker is not worth its latency."""

FEW_QUERIES = 30
"""Below this many queries a verdict says it is only a hint."""


def _best(rows: Sequence[Row], stage1: dict[int | None, Row]) -> Row | None:
    if not rows:
        return None
    return max(rows, key=lambda r: (r.ndcg - stage1[r.n].ndcg, -(r.n or 0)))


def _wins(row: Row, base: Row) -> tuple[int, int]:
    better = worse = 0
    for qid, value in row.per_query_ndcg.items():
        diff = value - base.per_query_ndcg.get(qid, 0.0)
        better += diff > 1e-12
        worse += diff < -1e-12
    return better, worse


def verdicts(rows: Sequence[Row], labels: Sequence[str], k: int) -> list[Verdict]:
    """A :class:`Verdict` for each reranker label appearing in ``rows``."""
    stage1 = {r.n: r for r in rows if r.reranker is None}
    out = []
    for label in labels:
        plain = _best([r for r in rows if r.reranker == label and r.fusion is None], stage1)
        fused = _best([r for r in rows if r.reranker == label and r.fusion is not None], stage1)
        if plain is None:
            continue
        base = stage1[plain.n]
        gain = plain.ndcg - base.ndcg
        outcome = "pays" if gain >= NEGLIGIBLE else "hurts" if gain < 0 else "does not pay"
        better, worse = _wins(plain, base)
        p50 = plain.stage2.p50_ms if plain.stage2 else 0.0
        text = (
            f"{label}: {outcome} -- nDCG@{k} {plain.ndcg:.3f} vs {base.ndcg:.3f} for stage 1 "
            f"({gain:+.3f}; better on {better}, worse on {worse} of {len(plain.per_query_ndcg)} "
            f"queries) at N={plain.n}, for +{p50:.1f} ms/query in stage 2 (p50)"
        )
        rescues: bool | None = None
        if fused is not None:
            f_gain = fused.ndcg - stage1[fused.n].ndcg
            f_text = f"{fused.ndcg:.3f} ({f_gain:+.3f}) at N={fused.n}"
            name = f"fusion ({fused.fusion})"
            if outcome == "pays":
                better_still = fused.ndcg > plain.ndcg
                text += f"; {name} {'does better still' if better_still else 'gives'}: {f_text}"
            else:
                rescues = f_gain >= NEGLIGIBLE
                effect = (
                    "rescues it"
                    if rescues
                    else "brings it back to stage-1 level, no more"
                    if f_gain >= 0
                    else "does not rescue it"
                )
                text += f"; {name} {effect}: {f_text}"
        out.append(
            Verdict(
                reranker=label,
                outcome=outcome,
                baseline_ndcg=base.ndcg,
                best_system=plain.system,
                best_n=int(plain.n or 0),
                best_ndcg=plain.ndcg,
                gain=gain,
                better_queries=better,
                worse_queries=worse,
                stage2_p50_ms=p50,
                fusion_rescues=rescues,
                text=text + _caveat(len(plain.per_query_ndcg)),
            )
        )
    return out


def _caveat(queries: int) -> str:
    if queries < FEW_QUERIES:
        return f". Only {queries} queries: a hint, not a verdict."
    return "."


def funnel_verdict(funnel: Row, stage1_rows: Sequence[Row], k: int) -> FunnelVerdict:
    """Judge ``funnel`` against the best of ``stage1_rows`` (same N), with intervals."""
    best = max(stage1_rows, key=lambda r: r.ndcg)
    versus = {r.system: paired(funnel.per_query_ndcg, r.per_query_ndcg) for r in stage1_rows}
    diff = versus[best.system]
    outcome = {"better": "pays", "worse": "hurts"}.get(diff.outcome, "cannot tell")
    p50 = funnel.stage2.p50_ms if funnel.stage2 else 0.0
    text = (
        f"The funnel ({funnel.system}, N={funnel.n}): {outcome} -- nDCG@{k} {funnel.ndcg:.4f} "
        f"vs {best.ndcg:.4f} for the best stage 1 ({best.system}): {diff.interval()} "
        f"(mean difference, 95 % paired bootstrap interval; better on {diff.better}, worse "
        f"on {diff.worse} of {diff.queries} queries), for +{p50:.1f} ms/query in stage 2 "
        "(p50)."
    )
    others = [f"{name} {d.interval()}" for name, d in versus.items() if name != best.system]
    if others:
        text += " Against the other stage-1 rows: " + "; ".join(others) + "."
    if outcome == "cannot tell":
        text += " The difference is inside the noise of these queries."
    return FunnelVerdict(
        funnel=funnel.system,
        baseline=best.system,
        outcome=outcome,
        ndcg=funnel.ndcg,
        baseline_ndcg=best.ndcg,
        difference=diff,
        versus=versus,
        text=text,
    )
