"""Fusing the retrieval and rerank signals, because a reranker can also hurt.

A cross-encoder trained on web search can rank worse than the bi-encoder on a domain it
never saw; combining the two rankings is a cheap hedge. Two methods:

* ``rrf`` -- reciprocal-rank fusion, ``1/(k + rank_retrieval) + 1/(k + rank_rerank)``
  (``k`` = 60 as in Cormack et al. 2009): scale-free, robust, the safe default;
* ``weighted`` -- ``w * minmax(relevance) + (1 - w) * minmax(retrieval)`` over the
  candidate set, for when you want to lean on one stage (``w`` = reranker weight).

Specs (``docs/specs.md``): ``"rrf"``, ``"rrf:k=60"``, ``"weighted"``, ``"weighted:w=0.7"``.

:func:`best_first` lives here too, as the single ranking sort: fusion ranks each signal
with it and :mod:`shortlist.rerank.ranking` orders the final scores with it, so ties
resolve the same way in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shortlist._validate import finite_number
from shortlist.errors import InvalidInputError
from shortlist.spec import check_options, convert, format_spec, parse, unknown

_OPTIONS: dict[str, dict[str, str]] = {
    "rrf": {"k": "k"},
    "weighted": {"w": "weight", "weight": "weight"},
}
"""Each fusion's spec options -> the :class:`Fusion` field they set (``weight`` is ``w``)."""


@dataclass(frozen=True)
class Fusion:
    """How to combine retrieval and rerank scores into the final ranking score."""

    method: str = "rrf"
    k: float = 60.0
    weight: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in _OPTIONS:
            raise unknown("fusion", self.method, list(_OPTIONS))
        finite_number("rrf k", self.k)
        finite_number("weighted fusion w", self.weight)
        if self.k <= 0:
            raise InvalidInputError(f"rrf k must be positive, got {self.k}.")
        if not 0.0 <= self.weight <= 1.0:
            raise InvalidInputError(f"weighted fusion w must be within 0..1, got {self.weight}.")

    @classmethod
    def parse(cls, spec: str | Fusion | None) -> Fusion | None:
        """Parse ``"rrf:k=60"`` / ``"weighted:w=0.7"`` (the grammar of :mod:`shortlist.spec`);
        ``None`` or ``"none"`` means no fusion."""
        if spec is None or isinstance(spec, Fusion):
            return spec
        if not isinstance(spec, str):
            raise InvalidInputError(
                f"fusion must be a Fusion, a spec such as 'rrf' or 'weighted:w=0.7', or None; "
                f"got {spec!r}."
            )
        if spec.strip().lower() in ("", "none"):
            return None
        parsed = parse(spec, what="fusion spec")
        fields = _OPTIONS.get(parsed.name)
        if fields is None:
            raise unknown("fusion", parsed.name, ["none", *_OPTIONS], spec=parsed)
        if parsed.argument:
            raise InvalidInputError(
                f"Fusion {parsed.text!r} takes options, not an argument: write e.g. "
                "'rrf:k=60' or 'weighted:w=0.7'."
            )
        check_options(parsed, fields, f"fusion {parsed.name!r}")
        return cls(
            parsed.name,
            **{fields[key]: convert(parsed, key, float) for key in fields if key in parsed.options},
        )

    def fuse(self, retrieval: np.ndarray, relevance: np.ndarray) -> np.ndarray:
        """Fused score per candidate; inputs are the two stages' scores, higher is better."""
        retrieval = np.asarray(retrieval, dtype=np.float64)
        relevance = np.asarray(relevance, dtype=np.float64)
        if self.method == "rrf":
            return 1.0 / (self.k + _ranks(retrieval)) + 1.0 / (self.k + _ranks(relevance))
        return self.weight * minmax(relevance) + (1.0 - self.weight) * minmax(retrieval)

    @property
    def mix_weight(self) -> float | None:
        """``w`` of a weighted mix (for hybrid stage 1 the dense weight, LlamaIndex's
        ``alpha``); ``None`` for rank fusion, which has no weight."""
        return self.weight if self.method == "weighted" else None

    def __str__(self) -> str:
        value = f"{self.k:g}" if self.method == "rrf" else f"{self.weight:g}"
        return format_spec(self.method, options={"k" if self.method == "rrf" else "w": value})


def best_first(scores: np.ndarray) -> np.ndarray:
    """Positions sorted by score, highest first; ties keep input order (a stable sort)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks, best first; ties broken by input order (which is retrieval order)."""
    order = best_first(scores)
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale present values to 0..1; absent (NaN) ones count as 0.

    All equal present values scale to 1: in a hybrid list, being found at all must beat
    being absent; among candidates that all carry a score it only shifts every fused
    score alike, so the order is the same either way. The one min-max of the package.
    """
    values = np.asarray(values, dtype=np.float64)
    present = np.isfinite(values)
    out = np.zeros(len(values))
    if present.any():
        lo, hi = values[present].min(), values[present].max()
        out[present] = 1.0 if hi == lo else (values[present] - lo) / (hi - lo)
    return out
