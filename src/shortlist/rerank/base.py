"""The reranker interface every backend implements (template method).

``rerank``/``rerank_hits`` (and their async twins) validate input, ask the backend for one
score per text, and hand the scores to :mod:`shortlist.rerank.ranking`, which sorts stably
(ties keep input order), fuses, applies ``score_threshold`` and cuts to ``top_n``. Backends
implement only ``_score`` (and ``_ascore`` when they have a native async path, as Cohere
does), plus ``spec`` so that ``load_reranker(r.spec)`` rebuilds them.
Scores are higher-is-better; local backends default to sigmoid probabilities in 0..1 so
that swapping a local model for Cohere does not change the score scale.

Each entry point is written once, as a plan (:mod:`shortlist.plan`) that the sync method
runs inline and its async twin awaits; every score request goes through one path,
:func:`shortlist.rerank.scoring.scores_plan` (cache, then batcher or backend, checked once).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypedDict, get_args

import numpy as np

from shortlist import plan
from shortlist._executor import run_blocking
from shortlist._validate import check_keywords, first_stray
from shortlist.documents import STAGE1, Hit, clean_text
from shortlist.errors import InvalidInputError
from shortlist.plan import Plan
from shortlist.rerank.batching import BatchStats, Request, ScoreBatcher
from shortlist.rerank.budget import BUDGET_CHUNK, deadline_after, rank_partial, spent
from shortlist.rerank.cache import CacheInfo, ScoreCache
from shortlist.rerank.fusion import Fusion
from shortlist.rerank.ranking import RankOptions, RerankResult, rank_hits, select
from shortlist.rerank.scoring import Sourced, scores_plan

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing's own from Python 3.11

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


class Reranker(ABC):
    """Scores (query, text) pairs; subclasses implement :meth:`_score`.

    Two entry points share one ranking path (:mod:`shortlist.rerank.ranking`):
    :meth:`rerank` for plain texts and :meth:`rerank_hits` for stage-1 hits, which keeps
    their retrieval scores and can fuse with them. Each has an async twin that runs the
    same plan (:mod:`shortlist.plan`) without blocking the event loop.
    """

    #: short backend name used in specs and logs, e.g. ``"onnx"``
    backend: str = "base"

    #: what ``fusion="auto"`` fuses this reranker's scores with over shortlist's own
    #: candidates (:func:`shortlist.funnel.resolve_fusion`); ``None``: its own order
    default_fusion: str | None = None

    #: candidates scored per step under a latency budget; None: all in one step (a remote
    #: backend, which bounds the step itself with :func:`~shortlist.rerank.budget.seconds_left`)
    budget_chunk: int | None = BUDGET_CHUNK

    #: a local model that uses every core per call: concurrent requests queue
    #: (:mod:`shortlist.rerank.batching`); remote backends stay concurrent
    batched: ClassVar[bool] = False

    #: how long the batcher may wait for companions while several callers are active
    batch_wait_ms: float = 0.0

    #: most pairs computed in one batch (a single larger request still runs whole)
    batch_max_pairs: int = 1024

    _score_cache: ScoreCache | None = None
    _batcher: ScoreBatcher | None = None

    @property
    def spec(self) -> str:
        """This reranker as a :func:`~shortlist.rerank.load_reranker` spec.

        Backends override it to name the model as the user gave it plus every option that
        changes scores, so ``load_reranker(r.spec)`` reproduces ``r``'s scores; traces,
        LlamaIndex events, serialised adapters and evaluation labels all use it. This
        default names only the backend.
        """
        return self.backend

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
        self, query: str, texts: Sequence[str], **options: Unpack[RankKeywords]
    ) -> list[RerankResult]:
        """The best ``top_n`` texts as (input position, final score), best first.

        ``options``: ``top_n`` (None: all), ``score_threshold`` (on the relevance score)
        and ``fusion`` (the input order stands in for the retrieval ranking, and the final
        score is the fused one), as in :meth:`rerank_hits`.
        """
        return plan.run(select_plan(self, query, texts, **options))

    async def arerank(
        self, query: str, texts: Sequence[str], **options: Unpack[RankKeywords]
    ) -> list[RerankResult]:
        """Async :meth:`rerank` (same arguments): never blocks the event loop."""
        return await plan.arun(select_plan(self, query, texts, **options))

    def rerank_hits(
        self, query: str, hits: Sequence[Hit], **options: Unpack[HitsKeywords]
    ) -> list[tuple[int, Hit]]:
        """Rerank stage-1 hits: (input position, reranked hit) pairs, best first.

        ``options``: ``top_n``, ``score_threshold`` and ``fusion`` as in :meth:`rerank`,
        and ``budget_ms``.

        The reranker scores ``hit.document.text``. Output hits keep the retrieval score
        and rank and gain ``relevance_score`` (and ``fused_score`` with ``fusion``, which
        fuses with the hits' retrieval scores, or their ranks when a score is missing);
        ``score`` is the final score. The positions let a caller map results back to its
        own objects (the framework adapters copy their documents with them).

        ``budget_ms`` bounds the time spent scoring: candidates are scored in input
        (retrieval) order, :attr:`budget_chunk` at a time, and no new chunk starts once
        the budget is spent; the candidates left unscored keep their retrieval order below
        the reranked ones, marked ``scored_by="stage1"``. The sync path cannot interrupt a
        local chunk in flight, so it may overrun by one chunk's time; the async path
        cancels the wait at the deadline. A remote backend (Cohere) sends every candidate
        at once with what is left of the budget as its request timeout
        (:mod:`shortlist.rerank.budget`).
        """
        return plan.run(rerank_plan(self, query, hits, **options))

    async def arerank_hits(
        self, query: str, hits: Sequence[Hit], **options: Unpack[HitsKeywords]
    ) -> list[tuple[int, Hit]]:
        """Async :meth:`rerank_hits` (same arguments; the backend's native async path)."""
        return await plan.arun(rerank_plan(self, query, hits, **options))

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text, in input order (no sorting, no cut)."""
        return plan.run(_texts_plan(self, query, texts))

    async def ascore(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Async :meth:`score`."""
        return await plan.arun(_texts_plan(self, query, texts))

    # -- cache and batching -----------------------------------------------------------------

    def with_cache(self, cache: ScoreCache | int | None = 100_000) -> Reranker:
        """Keep scores of (query, text) pairs seen before, so repeats are not rescored.

        ``cache`` is a :class:`~shortlist.rerank.cache.ScoreCache` (share one between
        rerankers: keys include the spec), a pair count for a new one, or None to stop
        caching. Returns ``self``, so ``load_reranker(spec).with_cache(10_000)`` reads well.
        """
        self._score_cache = ScoreCache(cache) if isinstance(cache, int) else cache
        return self

    def cache_info(self) -> CacheInfo | None:
        """Hits, misses (in pairs) and size of this reranker's cache; None when off."""
        return self._score_cache.info() if self._score_cache is not None else None

    def batch_stats(self) -> BatchStats:
        """Requests served and batches run by the batcher (all zero for remote backends)."""
        batcher = self._batcher
        return batcher.stats() if batcher is not None else BatchStats(0, 0, 0)

    @property
    def combines_requests(self) -> bool:
        """Whether queued requests are computed as one batch (see :attr:`batched`): only
        where more rows per model batch raise throughput. Default: one at a time."""
        return False

    # -- what a backend implements ----------------------------------------------------------

    @abstractmethod
    def _score(self, query: str, texts: list[str]) -> np.ndarray | Sourced:
        """Score every text against the query; return a float array of ``len(texts)``
        (or :class:`~shortlist.rerank.scoring.Sourced` when another producer answered)."""

    async def _ascore(self, query: str, texts: list[str]) -> np.ndarray | Sourced:
        """Default async path: the CPU-bound ``_score`` in the shared bounded executor."""
        return await run_blocking(self._score, query, texts)

    def _score_many(self, requests: list[Request]) -> Sequence[np.ndarray | Sourced]:
        """Score several requests in one go (the batcher's unit). Backends that can share
        their model's batches across queries override this; the default runs each."""
        return [self._score(query, texts) for query, texts in requests]

    def _scores_plan(
        self, query: str, texts: list[str], deadline: float | None = None
    ) -> Plan[Sourced]:
        """Where this reranker's scores come from (:func:`~shortlist.rerank.scoring.scores_plan`).
        Only a composite of rerankers (a fallback chain) overrides it; backends never do."""
        return scores_plan(self, query, texts, deadline)


class RankKeywords(TypedDict, total=False):
    """The ranking options of :meth:`Reranker.rerank`."""

    top_n: int | None
    score_threshold: float | None
    fusion: Fusion | str | None


class HitsKeywords(RankKeywords, total=False):
    """The options of :meth:`Reranker.rerank_hits`."""

    budget_ms: float | None


def select_plan(
    reranker: Reranker, query: str, texts: Sequence[str], **options: Unpack[RankKeywords]
) -> Plan[list[RerankResult]]:
    """:meth:`Reranker.rerank` as a plan (options checked before anything is scored)."""
    check_keywords("rerank", options, RankKeywords.__annotations__)
    rank = RankOptions.of(
        options.get("top_n"), options.get("score_threshold"), options.get("fusion")
    )
    scores = yield from _texts_plan(reranker, query, texts)
    return select(
        scores, top_n=rank.top_n, score_threshold=rank.score_threshold, fusion=rank.fusion
    )


def rerank_plan(
    reranker: Reranker,
    query: str,
    hits: Sequence[Hit],
    *,
    top_n: int | None = None,
    score_threshold: float | None = None,
    fusion: Fusion | str | None = None,
    budget_ms: float | None = None,
) -> Plan[list[tuple[int, Hit]]]:
    """:meth:`Reranker.rerank_hits` as a plan, for callers that compose it (the pipeline,
    the adapters). Input is checked when the plan is made, before any step runs."""
    options = RankOptions.of(top_n, score_threshold, fusion)
    items = _check_hits(hits)
    query, texts = _validate(query, [h.document.text for h in items])
    deadline = None if budget_ms is None else deadline_after(budget_ms)
    return _ranked(reranker, query, items, texts, options, deadline)


def _ranked(
    reranker: Reranker,
    query: str,
    items: list[Hit],
    texts: list[str],
    options: RankOptions,
    deadline: float | None,
) -> Plan[list[tuple[int, Hit]]]:
    if deadline is None:
        relevance, source = (yield from reranker._scores_plan(query, texts)) if texts else _EMPTY
        return rank_hits(
            items,
            relevance,
            top_n=options.top_n,
            score_threshold=options.score_threshold,
            fusion=options.fusion,
            scored_by=source,
        )
    parts: list[tuple[np.ndarray, str]] = []
    step = reranker.budget_chunk or max(len(texts), 1)
    for start in range(0, len(texts), step):
        if spent(deadline):
            break
        try:
            parts.append(
                (yield from reranker._scores_plan(query, texts[start : start + step], deadline))
            )
        except TimeoutError:
            if not spent(deadline):
                raise
            break  # the request timed out with the budget: the budget's cut
    return rank_partial(items, parts, options)


def sourced_plan(reranker: Reranker, query: str, texts: Sequence[str]) -> Plan[Sourced]:
    """Scores and the spec of what produced them (a chain names the member that answered):
    what a remote replica sends back, so its caller can report who scored."""
    query, items = _validate(query, texts)
    return reranker._scores_plan(query, items)


def _texts_plan(reranker: Reranker, query: str, texts: Sequence[str]) -> Plan[np.ndarray]:
    query, items = _validate(query, texts)
    if not items:
        return np.zeros(0, dtype=np.float64)
    return (yield from reranker._scores_plan(query, items)).scores


_EMPTY = Sourced(np.zeros(0, dtype=np.float64), STAGE1)


def _validate(query: str, texts: Sequence[str]) -> tuple[str, list[str]]:
    """The query and texts, checked; lone surrogates replaced (see ``clean_text``)."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("query must be a non-empty string.")
    if isinstance(texts, str):
        raise InvalidInputError("texts must be a sequence of strings, not a single string.")
    out = list(texts)
    if stray := first_stray(out, str):
        i, t = stray
        raise InvalidInputError(
            f"texts[{i}] is a {type(t).__name__}; every candidate must be a str."
        )
    return clean_text(query), [clean_text(t) for t in out]


def _check_hits(hits: Sequence[Hit]) -> list[Hit]:
    if isinstance(hits, Hit | str) or not isinstance(hits, Sequence):
        raise InvalidInputError("hits must be a sequence of shortlist Hits.")
    out = list(hits)
    if stray := first_stray(out, Hit):
        i, h = stray
        raise InvalidInputError(
            f"hits[{i}] is a {type(h).__name__}; every candidate must be a shortlist Hit."
        )
    return out
