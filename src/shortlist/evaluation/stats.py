"""Is a difference in nDCG more than noise? Paired comparisons over the same queries.

Tens of judged queries make per-query nDCG very noisy, and a mean difference of 0.01 can
be luck. Every "pays" / "hurts" that ``shortlist eval`` prints rests on a paired
bootstrap: resample the queries, recompute the mean difference, and read its 95 %
interval. An interval that straddles zero says "cannot tell".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
SEED = 0  # the same data always gives the same interval


@dataclass(frozen=True)
class Paired:
    """``a`` minus ``b`` over the queries both were measured on."""

    mean: float
    low: float  # 95 % bootstrap interval of the mean difference
    high: float
    better: int  # queries where a beats b
    worse: int
    queries: int

    @property
    def outcome(self) -> str:
        """``"better"`` (interval above zero), ``"worse"`` (below) or ``"cannot tell"``."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "cannot tell"

    def interval(self) -> str:
        return f"{self.mean:+.4f} [{self.low:+.4f}, {self.high:+.4f}]"


def paired(a: Mapping[str, float], b: Mapping[str, float], *, resamples: int = RESAMPLES) -> Paired:
    """Paired bootstrap of ``mean(a - b)`` over the queries in both (95 % percentile CI)."""
    queries = sorted(set(a) & set(b))
    diff = np.asarray([a[q] - b[q] for q in queries], dtype=np.float64)
    if diff.size == 0:
        return Paired(0.0, 0.0, 0.0, 0, 0, 0)
    return paired_diff(diff, resamples=resamples)


def paired_diff(diff: np.ndarray, *, resamples: int = RESAMPLES) -> Paired:
    """:func:`paired` over per-query differences already computed."""
    rng = np.random.default_rng(SEED)
    n = diff.size
    means = diff[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Paired(
        mean=float(diff.mean()),
        low=float(low),
        high=float(high),
        better=int((diff > 1e-12).sum()),
        worse=int((diff < -1e-12).sum()),
        queries=int(n),
    )
