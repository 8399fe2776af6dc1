"""The reranker interface every backend implements (template method).

``rerank``/``arerank`` validate input, ask the backend for one score per text, sort stably
(ties keep input order), apply ``score_threshold`` and cut to ``top_n``. Backends implement
only ``_score`` (and ``_ascore`` when they have a native async path, as Cohere does).
Scores are higher-is-better; local backends default to sigmoid probabilities in 0..1 so
that swapping a local model for Cohere does not change the score scale.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from shortlist._executor import run_blocking
from shortlist.errors import InvalidInputError

Activation = Literal["sigmoid", "none"]
"""What local backends do with the model's logit: ``"sigmoid"`` (0..1) or ``"none"`` (raw)."""


def check_activation(activation: str) -> Activation:
    """Validate an ``activation`` option early, at construction, not at the first query."""
    if activation not in get_args(Activation):
        raise InvalidInputError(f"activation must be 'sigmoid' or 'none', got {activation!r}.")
    return activation  # type: ignore[return-value]


def apply_activation(logits: np.ndarray, activation: Activation) -> np.ndarray:
    """Map raw logits to scores explicitly, instead of trusting a model's stored default.

    The sigmoid is computed in float64 in a form that cannot overflow for large |logit|.
    """
    x = np.asarray(logits, dtype=np.float64)
    if activation == "none":
        return x
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


@dataclass(frozen=True, slots=True)
class RerankResult:
    """One chosen candidate: its position in the input and its relevance score."""

    index: int
    score: float


class Reranker(ABC):
    """Scores (query, text) pairs; subclasses implement :meth:`_score`."""

    #: short backend name used in specs and logs, e.g. ``"onnx"``
    backend: str = "base"

    @classmethod
    def preflight(cls, options: Mapping[str, Any]) -> None:
        """Raise now what building with ``options`` would raise only after loading a model.

        ``options`` are the constructor's keyword arguments. A backend checks what is
        cheap -- an API key, where the model lives, option values -- without importing its
        runtime or reading weights, so a command line rejects a typo in milliseconds
        instead of after the index and models load. The default checks nothing.
        """
        return None

    def rerank(
        self,
        query: str,
        texts: Sequence[str],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> list[RerankResult]:
        """Return the best ``top_n`` texts as (input index, score), best first."""
        texts = _validate(query, texts, top_n, score_threshold)
        if not texts:
            return []
        return _select(self._checked(self._score(query, texts), len(texts)), top_n, score_threshold)

    async def arerank(
        self,
        query: str,
        texts: Sequence[str],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
    ) -> list[RerankResult]:
        """Async :meth:`rerank`: never blocks the event loop."""
        texts = _validate(query, texts, top_n, score_threshold)
        if not texts:
            return []
        scores = await self._ascore(query, texts)
        return _select(self._checked(scores, len(texts)), top_n, score_threshold)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text, in input order (no sorting, no cut)."""
        texts = _validate(query, texts, None, None)
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self._checked(self._score(query, texts), len(texts))

    async def ascore(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Async :meth:`score`."""
        texts = _validate(query, texts, None, None)
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self._checked(await self._ascore(query, texts), len(texts))

    @abstractmethod
    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        """Score every text against the query; return a float array of ``len(texts)``."""

    async def _ascore(self, query: str, texts: list[str]) -> np.ndarray:
        """Default async path: the CPU-bound ``_score`` in the shared bounded executor."""
        return await run_blocking(self._score, query, texts)

    def _checked(self, scores: np.ndarray, n: int) -> np.ndarray:
        arr = np.asarray(scores, dtype=np.float64).reshape(-1)
        if arr.shape[0] != n:
            raise RuntimeError(
                f"{type(self).__name__} returned {arr.shape[0]} scores for {n} texts "
                "(backend bug: every candidate must get exactly one score)."
            )
        if not np.all(np.isfinite(arr)):
            raise RuntimeError(f"{type(self).__name__} returned non-finite scores.")
        return arr


def _validate(
    query: str, texts: Sequence[str], top_n: int | None, score_threshold: float | None
) -> list[str]:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("query must be a non-empty string.")
    if isinstance(texts, str):
        raise InvalidInputError("texts must be a sequence of strings, not a single string.")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InvalidInputError(
                f"texts[{i}] is a {type(t).__name__}; every candidate must be a str."
            )
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise InvalidInputError(f"top_n must be a positive integer or None, got {top_n!r}.")
    if score_threshold is not None and not isinstance(score_threshold, int | float):
        raise InvalidInputError(f"score_threshold must be a number, got {score_threshold!r}.")
    return out


def _select(
    scores: np.ndarray, top_n: int | None, score_threshold: float | None
) -> list[RerankResult]:
    order = np.argsort(-scores, kind="stable")
    if score_threshold is not None:
        order = order[scores[order] >= score_threshold]
    if top_n is not None:
        order = order[:top_n]
    return [RerankResult(index=int(i), score=float(scores[i])) for i in order]
