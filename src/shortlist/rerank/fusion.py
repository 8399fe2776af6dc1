"""Fusing the retrieval and rerank signals, because a reranker can also hurt.

A cross-encoder trained on web search can rank worse than the bi-encoder on a domain it
never saw; combining the two rankings is a cheap hedge. Two methods:

* ``rrf`` -- reciprocal-rank fusion, ``1/(k + rank_retrieval) + 1/(k + rank_rerank)``
  (``k`` = 60 as in Cormack et al. 2009): scale-free, robust, the safe default;
* ``weighted`` -- ``w * minmax(relevance) + (1 - w) * minmax(retrieval)`` over the
  candidate set, for when you want to lean on one stage (``w`` = reranker weight).

Specs: ``"rrf"``, ``"rrf:k=60"``, ``"weighted"``, ``"weighted:w=0.7"``.

:func:`best_first` lives here too, as the single ranking sort: fusion ranks each signal
with it and :mod:`shortlist.rerank.ranking` orders the final scores with it, so ties
resolve the same way in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shortlist._validate import finite_number
from shortlist.errors import InvalidInputError


@dataclass(frozen=True)
class Fusion:
    """How to combine retrieval and rerank scores into the final ranking score."""

    method: str = "rrf"
    k: float = 60.0
    weight: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in ("rrf", "weighted"):
            raise InvalidInputError(f"Unknown fusion {self.method!r}; use 'rrf' or 'weighted'.")
        finite_number("rrf k", self.k)
        finite_number("weighted fusion w", self.weight)
        if self.k <= 0:
            raise InvalidInputError(f"rrf k must be positive, got {self.k}.")
        if not 0.0 <= self.weight <= 1.0:
            raise InvalidInputError(f"weighted fusion w must be within 0..1, got {self.weight}.")

    @classmethod
    def parse(cls, spec: str | Fusion | None) -> Fusion | None:
        """Parse ``"rrf:k=60"`` / ``"weighted:w=0.7"``; ``None`` or ``"none"`` means no fusion."""
        if spec is None or isinstance(spec, Fusion):
            return spec
        if not isinstance(spec, str):
            raise InvalidInputError(
                f"fusion must be a Fusion, a spec such as 'rrf' or 'weighted:w=0.7', or None; "
                f"got {spec!r}."
            )
        name, _, rest = spec.strip().lower().partition(":")
        if name in ("", "none"):
            return None
        options: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = part.partition("=")
            field = {"k": "k", "w": "weight", "weight": "weight"}.get(key.strip())
            if not eq or field is None:
                raise InvalidInputError(
                    f"Bad fusion option {part!r} in {spec!r}; use k=… (rrf) or w=… (weighted)."
                )
            try:
                options[field] = float(value)
            except ValueError:
                raise InvalidInputError(
                    f"Fusion option {key} must be a number, got {value!r}."
                ) from None
        return cls(method=name, **options)

    def fuse(self, retrieval: np.ndarray, relevance: np.ndarray) -> np.ndarray:
        """Fused score per candidate; inputs are the two stages' scores, higher is better."""
        retrieval = np.asarray(retrieval, dtype=np.float64)
        relevance = np.asarray(relevance, dtype=np.float64)
        if self.method == "rrf":
            return 1.0 / (self.k + _ranks(retrieval)) + 1.0 / (self.k + _ranks(relevance))
        return self.weight * _minmax(relevance) + (1.0 - self.weight) * _minmax(retrieval)

    @property
    def mix_weight(self) -> float | None:
        """``w`` of a weighted mix (for hybrid stage 1 the dense weight, LlamaIndex's
        ``alpha``); ``None`` for rank fusion, which has no weight."""
        return self.weight if self.method == "weighted" else None

    def __str__(self) -> str:
        return f"rrf:k={self.k:g}" if self.method == "rrf" else f"weighted:w={self.weight:g}"


def best_first(scores: np.ndarray) -> np.ndarray:
    """Positions sorted by score, highest first; ties keep input order (a stable sort)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks, best first; ties broken by input order (which is retrieval order)."""
    order = best_first(scores)
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def _minmax(scores: np.ndarray) -> np.ndarray:
    if len(scores) == 0:
        return scores
    lo, hi = float(scores.min()), float(scores.max())
    return np.zeros_like(scores) if hi == lo else (scores - lo) / (hi - lo)
