"""MetadataFilters -> core filter grammar: translation and semantics (no models needed)."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from shortlist.errors import InvalidInputError
from shortlist.index.filters import compile_filter
from shortlist.llama_index import to_shortlist_filter

ROWS: list[dict[str, Any]] = [
    {"n": n, "group": n % 3, "parity": "odd" if n % 2 else "even"} for n in range(1, 13)
]


def _select(filters: Any) -> list[int]:
    predicate = compile_filter(to_shortlist_filter(filters))  # type: ignore[arg-type]
    return [row["n"] for row in ROWS if predicate(row)]


def _f(key: str, value: Any, op: FilterOperator = FilterOperator.EQ) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=op)


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (FilterOperator.EQ, 4, [4]),
        (FilterOperator.NE, 4, [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12]),
        (FilterOperator.GT, 10, [11, 12]),
        (FilterOperator.GTE, 10, [10, 11, 12]),
        (FilterOperator.LT, 3, [1, 2]),
        (FilterOperator.LTE, 3, [1, 2, 3]),
        (FilterOperator.IN, [2, 5, 99], [2, 5]),
        (FilterOperator.NIN, [1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12]),
    ],
)
def test_each_supported_operator(op: FilterOperator, value: Any, expected: list[int]) -> None:
    assert _select(MetadataFilters(filters=[_f("n", value, op)])) == expected


def test_translation_is_the_documented_grammar() -> None:
    filters = MetadataFilters(
        filters=[
            _f("parity", "odd"),
            MetadataFilters(
                filters=[_f("group", 0), _f("n", [2, 4], FilterOperator.IN)],
                condition=FilterCondition.OR,
            ),
        ]
    )
    assert to_shortlist_filter(filters) == {
        "$and": [
            {"parity": {"$eq": "odd"}},
            {"$or": [{"group": {"$eq": 0}}, {"n": {"$in": [2, 4]}}]},
        ]
    }


def test_and_or_and_nesting() -> None:
    both = MetadataFilters(filters=[_f("parity", "even"), _f("group", 0)])
    assert _select(both) == [6, 12]
    either = MetadataFilters(
        filters=[_f("n", 1), _f("n", 11, FilterOperator.GTE)], condition=FilterCondition.OR
    )
    assert _select(either) == [1, 11, 12]
    nested = MetadataFilters(
        filters=[
            _f("parity", "odd"),
            MetadataFilters(filters=[_f("group", 0), _f("n", 5)], condition=FilterCondition.OR),
        ]
    )
    assert _select(nested) == [3, 5, 9]


def test_not_means_none_of_them_as_in_llama_index() -> None:
    none_of = MetadataFilters(
        filters=[_f("parity", "odd"), _f("n", 6, FilterOperator.GT)],
        condition=FilterCondition.NOT,
    )
    assert _select(none_of) == [2, 4, 6]


def test_single_filter_empty_filters_and_core_passthrough() -> None:
    assert _select(_f("n", 7)) == [7]
    assert _select(MetadataFilters(filters=[])) == list(range(1, 13))
    core = {"n": {"$lt": 3}}
    assert to_shortlist_filter(core) is core  # type: ignore[arg-type]
    assert to_shortlist_filter(None) is None


@pytest.mark.parametrize(
    "op",
    [
        FilterOperator.TEXT_MATCH,
        FilterOperator.CONTAINS,
        FilterOperator.ANY,
        FilterOperator.ALL,
        FilterOperator.IS_EMPTY,
    ],
)
def test_unsupported_operator_is_a_typed_error_naming_it(op: FilterOperator) -> None:
    value: Any = ["a"] if op in (FilterOperator.ANY, FilterOperator.ALL) else "a"
    nested = MetadataFilters(filters=[_f("n", 1), MetadataFilters(filters=[_f("tag", value, op)])])
    with pytest.raises(InvalidInputError, match=op.name) as info:
        to_shortlist_filter(nested)
    assert isinstance(info.value, ValueError)
    assert "'tag'" in str(info.value)


def test_bad_filter_type_is_a_typed_error() -> None:
    with pytest.raises(InvalidInputError, match="MetadataFilters"):
        to_shortlist_filter(42)  # type: ignore[arg-type]
