"""Hard negatives mined from the user's own index, and the pairs a cross-encoder learns from.

Random negatives teach a reranker what it already knows; the candidates stage 1 ranks high
but the judges did not mark relevant are the mistakes it will actually face. They are
taken from a rank window of the funnel's own stage 1 (same index, same mode). Judged
positives are never negatives; and because judgments are incomplete, a mined candidate
that the *base* cross-encoder scores close to the query's positives can be dropped as a
likely unlabelled positive (``filter_margin``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shortlist._validate import int_at_least, positive_int
from shortlist.errors import InvalidInputError
from shortlist.tuning.data import TrainingData, text_key

if TYPE_CHECKING:
    from shortlist.index import BaseIndex
    from shortlist.rerank.base import Reranker

DEFAULT_WINDOW = (1, 30)
DEFAULT_PER_QUERY = 10


@dataclass(frozen=True)
class Window:
    """Stage-1 ranks ``start..stop`` (1-based, inclusive) that negatives are drawn from."""

    start: int = DEFAULT_WINDOW[0]
    stop: int = DEFAULT_WINDOW[1]

    def __post_init__(self) -> None:
        positive_int("negative window start", self.start)
        if positive_int("negative window stop", self.stop) < self.start:
            raise InvalidInputError(
                f"negative window {self.start}:{self.stop} is empty; write START:STOP with "
                "START <= STOP, e.g. 1:30."
            )

    def __str__(self) -> str:
        return f"{self.start}:{self.stop}"

    @classmethod
    def parse(cls, spec: str | Sequence[int] | Window) -> Window:
        """``"1:30"``, ``(1, 30)`` or a Window."""
        if isinstance(spec, Window):
            return spec
        if isinstance(spec, str):
            head, sep, tail = spec.partition(":")
            try:
                first, last = (int(head), int(tail)) if sep else (1, int(head))
            except ValueError:
                raise InvalidInputError(
                    f"negative window must be START:STOP ranks, e.g. 1:30; got {spec!r}."
                ) from None
            return cls(first, last)
        first, last = spec
        return cls(int(first), int(last))


def mine_negatives(
    index: BaseIndex,
    data: TrainingData,
    query_ids: Sequence[str],
    *,
    window: Window | str = Window(),
    per_query: int = DEFAULT_PER_QUERY,
    mode: str | None = None,
    alpha: float | None = None,
    base: Reranker | None = None,
    filter_margin: float | None = None,
) -> dict[str, list[str]]:
    """Up to ``per_query`` mined negatives (document ids) per query, best-ranked first.

    ``filter_margin`` (with ``base``) drops a candidate whose base score is at least
    ``(1 - filter_margin)`` times the query's best positive base score.
    """
    window = Window.parse(window)
    per_query = int_at_least("negatives per query", per_query, 0)
    if filter_margin is not None and base is None:
        raise InvalidInputError("filter_margin needs the base reranker to score candidates.")
    out: dict[str, list[str]] = {}
    if per_query == 0:
        return {qid: [] for qid in query_ids}
    for qid in query_ids:
        judged = data.queries[qid]
        excluded = set(judged.labels)  # judged either way: positives never, negatives already in
        hits = index.search(judged.query, window.stop, mode=mode, alpha=alpha)
        hits = hits[window.start - 1 :]
        candidates = [h for h in hits if h.id not in excluded and text_key(h.text) not in excluded]
        if filter_margin is not None and base is not None and candidates:
            positives = [data.texts[k] for k in judged.positives]
            bar = float(base.score(judged.query, positives).max()) * (1.0 - filter_margin)
            scores = base.score(judged.query, [h.text for h in candidates])
            candidates = [h for h, s in zip(candidates, scores, strict=True) if s < bar]
        out[qid] = [h.id for h in candidates[:per_query]]
    return out


def training_pairs(
    data: TrainingData,
    query_ids: Sequence[str],
    negatives: dict[str, list[str]],
    documents: dict[str, str],
) -> list[tuple[str, str, float]]:
    """(query, document text, label) for every judged and mined pair of ``query_ids``."""
    pairs: list[tuple[str, str, float]] = []
    for qid in query_ids:
        judged = data.queries[qid]
        pairs += [(judged.query, data.texts[k], label) for k, label in judged.labels.items()]
        pairs += [(judged.query, documents[d], 0.0) for d in negatives.get(qid, [])]
    return pairs
