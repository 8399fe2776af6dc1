"""Framework-free glue the two rerank adapters share (LangChain compressor, LlamaIndex
postprocessor), so neither copies the other and both fail the same way.

Nothing here imports the index or a framework: an adapter that only reranks loads
neither FAISS nor the encoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shortlist._validate import finite_number, known_names, positive_int
from shortlist.documents import RETRIEVAL_RANK_KEY, RETRIEVAL_SCORE_KEY, Document, Hit
from shortlist.rerank import as_reranker
from shortlist.rerank.fusion import Fusion


class CheckedArguments:
    """Mixin for the adapters' pydantic models: arguments are checked before pydantic's.

    Pydantic wraps a ``ValueError`` raised while it validates in its own
    ``ValidationError``, so a caller could not catch
    :class:`~shortlist.errors.UnknownBackendError` or
    :class:`~shortlist.errors.InvalidInputError` by type, and the same mistake would raise
    different errors in different adapters. Here the constructor and ``model_validate``
    (which deserialisation uses) both run :meth:`_check_arguments` first, outside
    pydantic. The default check is :func:`rerank_fields`; a model overrides it for
    other fields.
    """

    @classmethod
    def _check_arguments(cls, data: dict[str, Any]) -> dict[str, Any]:
        return rerank_fields(cls.__name__, data, cls.model_fields)  # type: ignore[attr-defined]

    def __init__(self, **data: Any) -> None:
        super().__init__(**self._check_arguments(data))

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Pydantic's ``model_validate``, after the same checks as the constructor."""
        if isinstance(obj, Mapping):
            obj = cls._check_arguments(dict(obj))
        return super().model_validate(obj, *args, **kwargs)  # type: ignore[misc]


def rerank_fields(owner: str, data: dict[str, Any], accepted: Iterable[str]) -> dict[str, Any]:
    """Check and normalise a rerank adapter's arguments (see :class:`CheckedArguments`).

    An unknown argument (``topn=3``) is an :class:`~shortlist.errors.InvalidInputError`
    naming the right one, a bad spec an :class:`~shortlist.errors.UnknownBackendError`.
    A ``reranker`` spec is loaded, and ``fusion`` is stored in its normal form
    (``"rrf:k=60"``). Idempotent, so checking twice is harmless.
    """
    known_names(owner, data, accepted)
    out = dict(data)
    if "reranker" in out:
        out["reranker"] = as_reranker(out["reranker"])
    if "top_n" in out:
        out["top_n"] = positive_int("top_n", out["top_n"], allow_none=True)
    if "score_threshold" in out:
        out["score_threshold"] = finite_number(
            "score_threshold", out["score_threshold"], allow_none=True
        )
    if "rerank_budget_ms" in out:
        out["rerank_budget_ms"] = finite_number(
            "rerank_budget_ms", out["rerank_budget_ms"], positive=True, allow_none=True
        )
    if "fusion" in out:
        fusion = Fusion.parse(out["fusion"])
        out["fusion"] = None if fusion is None else str(fusion)
    return out


def candidate(
    position: int,
    text: str,
    *,
    id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    retrieval_score: float | None = None,
) -> Hit:
    """Wrap a framework's document as a stage-1 Hit, for :meth:`Reranker.rerank_hits`.

    A retrieval score or rank that an upstream shortlist retriever stored in metadata is
    picked up, so the reranked output keeps reporting it.
    """
    meta = dict(metadata or {})
    if retrieval_score is None and _is_number(meta.get(RETRIEVAL_SCORE_KEY)):
        retrieval_score = float(meta[RETRIEVAL_SCORE_KEY])
    rank = meta.get(RETRIEVAL_RANK_KEY)
    return Hit(
        document=Document(id=id or f"#{position}", text=text, metadata=meta),
        score=retrieval_score if retrieval_score is not None else 0.0,
        rank=position + 1,
        retrieval_score=retrieval_score,
        retrieval_rank=rank if isinstance(rank, int) and not isinstance(rank, bool) else None,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
