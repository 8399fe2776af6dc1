"""Framework-free glue the two rerank adapters share (LangChain compressor, LlamaIndex
postprocessor), so neither copies the other and both fail the same way.

Nothing here imports the index or a framework: an adapter that only reranks loads
neither FAISS nor the encoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from shortlist._validate import finite_number, known_names, positive_int
from shortlist.documents import RETRIEVAL_RANK_KEY, RETRIEVAL_SCORE_KEY, Document, Hit
from shortlist.errors import InvalidInputError
from shortlist.funnel import as_funnel, fusion_spec, resolve_fusion
from shortlist.plan import Plan
from shortlist.rerank import as_reranker
from shortlist.rerank.base import Reranker, rerank_plan
from shortlist.rerank.fusion import Fusion

FUNNEL_FIELDS = ("reranker", "top_n", "score_threshold", "fusion", "rerank_budget_ms")
"""What a rerank adapter takes from ``funnel=`` unless given explicitly."""


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
    if out.get("funnel") is not None:
        config = as_funnel(out["funnel"])
        out["funnel"] = config
        for name in FUNNEL_FIELDS:
            if name not in data:
                out[name] = getattr(config, name)
        if out.get("reranker") is None:
            raise InvalidInputError(
                f"{owner}: the funnel has no reranker; set one in it or pass reranker=."
            )
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
        out["fusion"] = fusion_field(out["fusion"])
    return out


def fusion_field(value: object) -> str | None:
    """A ``fusion`` field in normal form: ``"auto"``, ``None`` (the reranker's order) or a
    fusion's spec (:func:`shortlist.funnel.fusion_spec`, with ``"none"`` as ``None``)."""
    spec = fusion_spec(value)
    return None if spec == "none" else spec


def rerank_fusion(
    fusion: str | None, reranker: Reranker, metadatas: Iterable[Mapping[str, Any]]
) -> Fusion | None:
    """The fusion a compressor applies to these documents.

    ``"auto"`` fuses only documents that a shortlist retriever scored (every one carries
    ``retrieval_score`` in its metadata) and only for a backend that fuses by default
    (:func:`shortlist.funnel.resolve_fusion`); documents from any other retriever come
    back in the reranker's own order, as every peer's compressor returns them. An
    explicit fusion applies to any input (with input order as the retrieval ranking
    where no score was recorded).
    """
    ours = all(_is_number(m.get(RETRIEVAL_SCORE_KEY)) for m in metadatas)
    return resolve_fusion(fusion, reranker, shortlist_candidates=ours)


class RerankSettings(Protocol):
    """What both rerank adapters hold (their pydantic fields)."""

    reranker: Reranker
    top_n: int | None
    score_threshold: float | None
    fusion: str | None
    rerank_budget_ms: float | None


def rerank_plan_for(
    adapter: RerankSettings,
    query: str,
    hits: list[Hit],
    metadatas: Iterable[Mapping[str, Any]],
) -> Plan[list[tuple[int, Hit]]]:
    """The rerank an adapter runs on converted documents, with its settings (the fusion
    rule needs the documents' metadata): one plan for its sync and async methods."""
    return rerank_plan(
        adapter.reranker,
        query,
        hits,
        top_n=adapter.top_n,
        score_threshold=adapter.score_threshold,
        fusion=rerank_fusion(adapter.fusion, adapter.reranker, metadatas),
        budget_ms=adapter.rerank_budget_ms,
    )


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
    picked up (it wins over ``retrieval_score``, a framework's own score), so the
    reranked output keeps reporting it.
    """
    meta = dict(metadata or {})
    if _is_number(meta.get(RETRIEVAL_SCORE_KEY)):  # shortlist's stage-1 score wins
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
