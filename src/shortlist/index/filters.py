"""Metadata filters, evaluated in Python over the document store.

A filter is a mapping; all its conditions must hold (AND):

* ``{"lang": "en"}`` -- equality;
* ``{"year": {"$in": [2023, 2024]}}`` -- membership; also ``$nin``, ``$eq``, ``$ne``,
  ``$gt``, ``$gte``, ``$lt``, ``$lte``, ``$exists``;
* ``{"$or": [{...}, {...}]}`` / ``{"$and": [...]}`` -- combinations;
* or a callable ``metadata -> bool`` for anything else.

Matching ids are handed to FAISS as an ID selector, so the search only considers
documents that pass (pre-filtering): no recall is lost as with post-filtering.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from shortlist.errors import InvalidInputError

Filter = Mapping[str, Any] | Callable[[Mapping[str, Any]], bool]
Predicate = Callable[[Mapping[str, Any]], bool]
"""A compiled filter: metadata -> keep?"""

_MISSING = object()


_OPS = frozenset({"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"})


def _validate(op: str, expected: Any) -> None:
    """Reject unknown operators and malformed operands when the filter is compiled."""
    if op not in _OPS:
        raise InvalidInputError(
            f"Unknown filter operator {op!r}; use one of: {', '.join(sorted(_OPS))}."
        )
    if op in ("$in", "$nin") and not isinstance(expected, list | tuple | set | frozenset):
        raise InvalidInputError(f"{op} needs a list of values, got {expected!r}.")
    if op == "$exists" and not isinstance(expected, bool):
        raise InvalidInputError(f"$exists takes true or false, got {expected!r}.")
    if op in ("$gt", "$gte", "$lt", "$lte") and (
        isinstance(expected, bool) or not isinstance(expected, int | float | str)
    ):
        raise InvalidInputError(
            f"{op} compares with a number or a string (dates as ISO text), got {expected!r}."
        )


def _field(key: str, op: str, expected: Any, metadata: Mapping[str, Any]) -> bool:
    actual = metadata.get(key, _MISSING)
    try:
        return _compare(op, actual, expected)
    except TypeError:  # only membership raises: an unhashable value tested against a set
        raise InvalidInputError(
            f"Filter {{{key!r}: {{{op!r}: ...}}}}: {op} with a set cannot test the "
            f"{type(actual).__name__} value {actual!r} some documents hold; {op} compares the "
            f"whole value. Pass the values as a list, or match list items with a callable "
            f"filter, e.g. filter=lambda m: 'x' in m.get({key!r}, [])."
        ) from None


def _combined(
    combine: Callable[[Iterable[bool]], bool],
    subs: list[Callable[[Mapping[str, Any]], bool]],
    metadata: Mapping[str, Any],
) -> bool:
    return combine(s(metadata) for s in subs)


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "$exists":
        return (actual is not _MISSING) == bool(expected)
    if actual is _MISSING:
        return op in ("$ne", "$nin")
    if op == "$eq":
        return bool(actual == expected)
    if op == "$ne":
        return bool(actual != expected)
    if op in ("$in", "$nin"):
        return (actual in expected) == (op == "$in")
    try:
        if op == "$gt":
            return bool(actual > expected)
        if op == "$gte":
            return bool(actual >= expected)
        if op == "$lt":
            return bool(actual < expected)
        if op == "$lte":
            return bool(actual <= expected)
    except TypeError:
        return False  # incomparable types (e.g. str vs int) simply do not match
    raise InvalidInputError(f"Unknown filter operator {op!r}.")


def compile_filter(spec: Filter) -> Predicate:
    """Validate ``spec`` once and return a fast predicate over metadata."""
    if callable(spec):
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidInputError(f"filter must be a dict or a callable, got {type(spec).__name__}.")
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for key, cond in spec.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list | tuple) or not cond:
                raise InvalidInputError(f"{key} needs a non-empty list of filters.")
            subs = [compile_filter(c) for c in cond]
            combine = all if key == "$and" else any
            checks.append(functools.partial(_combined, combine, subs))
        elif isinstance(key, str) and key.startswith("$"):
            raise InvalidInputError(
                f"Unknown filter combinator {key!r} at the top of a filter; use $and or $or "
                "(lower case), or put operators under a field: {'year': {'$gte': 2020}}."
            )
        elif isinstance(cond, Mapping) and any(str(k).startswith("$") for k in cond):
            if not all(str(k).startswith("$") for k in cond):
                raise InvalidInputError(
                    f"Filter on {key!r} mixes operators and plain keys ({sorted(map(str, cond))}); "
                    "use only operators ({'$gte': 1}) or only a value to match exactly."
                )
            for op, expected in cond.items():
                _validate(op, expected)
                checks.append(functools.partial(_field, key, op, expected))
        else:
            checks.append(functools.partial(_field, key, "$eq", cond))
    return lambda m: all(c(m) for c in checks)
