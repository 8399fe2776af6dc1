"""LlamaIndex ``MetadataFilters`` -> the core filter grammar (:mod:`shortlist.index.filters`).

Only translation lives here; matching is done by the core, before FAISS ranks anything
(pre-filtering), exactly as for a filter dict passed to :meth:`Index.search`. Operators
the core cannot express raise :class:`~shortlist.errors.InvalidInputError` naming the
operator, when the retriever is built rather than in the middle of a query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from shortlist.errors import InvalidInputError
from shortlist.index.filters import Filter, compile_filter

_OPERATORS: dict[FilterOperator, str] = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
}

LlamaFilter = MetadataFilters | MetadataFilter | Filter
"""What ``ShortlistRetriever(filters=...)`` accepts: LlamaIndex filters or a core filter."""


def to_shortlist_filter(filters: LlamaFilter | None) -> Filter | None:
    """Translate LlamaIndex filters (nested, AND/OR/NOT) into a core filter.

    A core filter (dict or callable) passes through unchanged, so users who already know
    the shortlist grammar can use it directly. The result is compiled once here so that
    a malformed filter fails now, not at query time.
    """
    if filters is None:
        return None
    if isinstance(filters, MetadataFilters):
        out = _group(filters)
    elif isinstance(filters, MetadataFilter):
        out = _leaf(filters)
    elif isinstance(filters, Mapping) or callable(filters):
        out = filters
    else:
        raise InvalidInputError(
            "filters must be llama_index MetadataFilters, a MetadataFilter, a shortlist "
            f"filter dict or a callable, got {type(filters).__name__}."
        )
    compile_filter(out)  # validate now
    return out


def _leaf(f: MetadataFilter) -> dict[str, Any]:
    op = _OPERATORS.get(f.operator)
    if op is None:
        supported = ", ".join(o.name for o in _OPERATORS)
        raise InvalidInputError(
            f"LlamaIndex filter operator {f.operator.name} ({f.operator.value!r}) on key "
            f"{f.key!r} is not supported by shortlist; supported: {supported}. For anything "
            "else pass a callable filter (metadata -> bool)."
        )
    return {f.key: {op: f.value}}


def _group(group: MetadataFilters) -> Filter:
    parts: list[Filter] = [
        _group(f) if isinstance(f, MetadataFilters) else _leaf(f) for f in group.filters
    ]
    condition = group.condition or FilterCondition.AND
    if not parts:
        return {}  # no conditions: everything matches, as in LlamaIndex
    if condition == FilterCondition.AND:
        return parts[0] if len(parts) == 1 else {"$and": parts}
    if condition == FilterCondition.OR:
        return {"$or": parts}
    if condition == FilterCondition.NOT:
        # LlamaIndex's NOT means "none of the filters match"; the grammar has no $not,
        # but it accepts predicates anywhere, so negate the compiled OR.
        return _negate(compile_filter({"$or": parts}))
    raise InvalidInputError(f"LlamaIndex filter condition {condition!r} is not supported.")


def _negate(
    predicate: Callable[[Mapping[str, Any]], bool],
) -> Callable[[Mapping[str, Any]], bool]:
    return lambda metadata: not predicate(metadata)
