"""The value types an evaluation produces: :class:`Latency`, :class:`Row`, the verdicts
(:class:`Verdict`, :class:`FunnelVerdict`) and the :class:`Report` that holds them all.

Frozen dataclasses, JSON-ready through ``to_dict``; rendering lives in
:mod:`shortlist.evaluation.render`, the judgment in :mod:`shortlist.evaluation.verdict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from shortlist.evaluation.stats import Paired

STAGE1_ROW = "stage 1"
"""System name of the retrieval-only rows in a report (a label; the `scored_by` marker
of candidates no reranker scored is :data:`shortlist.documents.STAGE1`)."""


@dataclass(frozen=True)
class Latency:
    """Per-query latency of one stage, in milliseconds."""

    p50_ms: float
    p95_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        """Summarise per-query durations given in seconds."""
        ms = np.asarray(seconds, dtype=np.float64) * 1000.0
        if ms.size == 0:
            return cls(0.0, 0.0, 0.0)
        p50, p95 = np.percentile(ms, [50, 95])
        return cls(float(p50), float(p95), float(ms.mean()))


@dataclass(frozen=True)
class Row:
    """One system at one candidate count N.

    ``n`` is None for a black-box callable (whose latency is all in ``stage1``).
    ``recall_n`` (Recall@N) is given for stage 1 only: reranking permutes the N
    candidates, so it cannot change it. ``qps`` is queries per second of both stages
    run back to back, single stream.
    """

    n: int | None
    system: str
    reranker: str | None
    fusion: str | None
    ndcg: float
    mrr: float
    recall_m: float
    recall_n: float | None
    stage1: Latency
    stage2: Latency | None
    qps: float
    per_query_ndcg: dict[str, float] = field(repr=False, compare=False)
    mode: str | None = None  # the stage-1 mode when a report compares several

    def to_dict(self, *, per_query: bool = False) -> dict[str, Any]:
        """JSON-ready form; ``per_query`` keeps each query's nDCG (for paired comparisons)."""
        out = asdict(self)
        if per_query:
            out["per_query_ndcg"] = {q: round(v, 6) for q, v in self.per_query_ndcg.items()}
        else:
            del out["per_query_ndcg"]
        return out


@dataclass(frozen=True)
class Verdict:
    """The judgment on one reranker; ``text`` is the sentence the reports print."""

    reranker: str
    outcome: str  # "pays" | "does not pay" | "hurts"
    baseline_ndcg: float
    best_system: str
    best_n: int
    best_ndcg: float
    gain: float
    better_queries: int
    worse_queries: int
    stage2_p50_ms: float
    fusion_rescues: bool | None  # None: no fused variant, or the plain reranker pays
    text: str


@dataclass(frozen=True)
class FunnelVerdict:
    """The funnel as shipped (or as configured) against the best stage-1 row.

    ``outcome`` is ``"pays"`` when the paired bootstrap interval of the nDCG difference
    lies above zero, ``"hurts"`` when below, ``"cannot tell"`` when it straddles zero;
    ``versus`` holds the same comparison against every stage-1 row.
    """

    funnel: str
    baseline: str
    outcome: str
    ndcg: float
    baseline_ndcg: float
    difference: Paired
    versus: dict[str, Paired]
    text: str


@dataclass(frozen=True)
class Report:
    """Everything :func:`~shortlist.evaluation.evaluate` measured.

    ``k`` is the cutoff of nDCG and MRR (10), ``m`` the shortlist size of Recall@M,
    ``n_values`` the candidate counts (empty for a black-box callable).
    """

    dataset: str
    description: str
    queries: int
    k: int
    m: int
    n_values: tuple[int, ...]
    rows: tuple[Row, ...]
    verdicts: tuple[Verdict, ...]
    settings: dict[str, Any]
    notes: tuple[str, ...]
    best: str | None = None  # the best funnel found, when stage-1 modes were compared
    funnel: FunnelVerdict | None = None  # the funnel against the best stage-1 row

    def row(self, n: int | None, system: str = STAGE1_ROW) -> Row:
        """The row for ``system`` at ``n`` candidates."""
        for r in self.rows:
            if r.n == n and r.system == system:
                return r
        raise KeyError(f"no row for system {system!r} at N={n}")

    @property
    def systems(self) -> list[str]:
        """System names in table order (stage 1 first)."""
        return list(dict.fromkeys(r.system for r in self.rows))

    def to_dict(self, *, per_query: bool = False) -> dict[str, Any]:
        """JSON-ready form, used by ``shortlist eval --json`` and report.json (which keeps
        each row's per-query nDCG, ``per_query=True``)."""
        return {
            "dataset": self.dataset,
            "description": self.description,
            "queries": self.queries,
            "k": self.k,
            "m": self.m,
            "n_values": list(self.n_values),
            "settings": self.settings,
            "rows": [r.to_dict(per_query=per_query) for r in self.rows],
            "verdicts": [asdict(v) for v in self.verdicts],
            "notes": list(self.notes),
            "best": self.best,
            "funnel": None if self.funnel is None else asdict(self.funnel),
        }
