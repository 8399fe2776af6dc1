"""Argument checks shared by every public entry point, so one mistake gets one message.

Each check takes the parameter's name *as the caller spelled it* (``k`` in LangChain,
``similarity_top_k`` in LlamaIndex, ``top_n`` in the core), so the error points at the
argument the user actually wrote. ``bool`` is rejected where a number is expected:
``True`` is an ``int`` to Python, never a count or a threshold to a user.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal, overload

import numpy as np

from shortlist.errors import InvalidInputError
from shortlist.spec import closest


@overload
def int_at_least(
    name: str, value: object, minimum: int, *, allow_none: Literal[False] = False
) -> int: ...
@overload
def int_at_least(name: str, value: object, minimum: int, *, allow_none: bool) -> int | None: ...
def int_at_least(name: str, value: object, minimum: int, *, allow_none: bool = False) -> int | None:
    """``value`` as an int >= ``minimum`` (or ``None`` when allowed); else InvalidInputError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InvalidInputError(
            f"{name} must be {what}{' or None' if allow_none else ''}, got {value!r}."
        )
    return value


@overload
def positive_int(name: str, value: object, *, allow_none: Literal[False] = False) -> int: ...
@overload
def positive_int(name: str, value: object, *, allow_none: bool) -> int | None: ...
def positive_int(name: str, value: object, *, allow_none: bool = False) -> int | None:
    """``value`` as an int >= 1 (or ``None`` when allowed); 0 is an error, not "the default"."""
    return int_at_least(name, value, 1, allow_none=allow_none)


@overload
def finite_number(
    name: str, value: object, *, allow_none: Literal[False] = False, positive: bool = False
) -> float: ...
@overload
def finite_number(
    name: str, value: object, *, allow_none: bool, positive: bool = False
) -> float | None: ...
def finite_number(
    name: str, value: object, *, allow_none: bool = False, positive: bool = False
) -> float | None:
    """``value`` as a finite float (``> 0`` with ``positive``); NaN would break every sort."""
    if value is None and allow_none:
        return None
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if not ok or (positive and value <= 0):  # type: ignore[operator]
        what = "a positive finite number" if positive else "a finite number"
        raise InvalidInputError(
            f"{name} must be {what}{' or None' if allow_none else ''}, got {value!r}."
        )
    return float(value)  # type: ignore[arg-type]


def known_names(owner: str, given: Iterable[str], accepted: Iterable[str]) -> None:
    """Reject argument names ``owner`` does not take, suggesting the closest valid one.

    A misspelt option (``topn=3``) silently ignored is a bug the user never sees; this
    turns it into an error naming the fix.
    """
    valid = sorted(accepted)
    unknown = sorted(set(given) - set(valid))
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = closest(name, valid)
        hints.append(f"{name!r} (did you mean {close!r}?)" if close else repr(name))
    raise InvalidInputError(
        f"Unknown option(s) for {owner}: {', '.join(hints)}. Valid options: {', '.join(valid)}."
    )


def check_keywords(owner: str, given: Mapping[str, object], valid: Iterable[str]) -> None:
    """A misspelt keyword (``topn=3``) passed through ``**options`` is the TypeError Python
    raises for explicit parameters, with the fix named."""
    names = list(valid)
    for name in given:
        if name not in names:
            close = closest(name, names)
            hint = f"; did you mean {close!r}?" if close else f"; valid: {', '.join(names)}"
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}{hint}")


def float_array(value: object, what: str, dim: int) -> np.ndarray:
    """``value`` as float32, refusing what is not numbers: numpy would parse ``"0.5"``
    silently and fail on ``"a"`` with its own message."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged rows
        raise InvalidInputError(
            f"{what} must be a numeric array of shape (n, {dim}); numpy cannot read the value "
            f"given as one ({exc})."
        ) from None
    if array.dtype.kind not in "iuf":
        raise InvalidInputError(
            f"{what} must be numbers, a float array of shape (n, {dim}); got an array of "
            f"{array.dtype} ({type(value).__name__}). Pass the encoder's float vectors."
        )
    return array.astype(np.float32, copy=False)


def first_stray(items: list[Any], kind: type | tuple[type, ...]) -> tuple[int, Any] | None:
    """The first item that is not a ``kind``, with its position; None when all are
    (what every "a list of X" check reports)."""
    for i, x in enumerate(items):  # a plain loop: this runs on every rerank call
        if not isinstance(x, kind):
            return i, x
    return None


def check_ids(ids: object, method: str) -> list[str]:
    """Ids to get or delete: a list of str (a lone string would be read character by
    character, ``None`` is not "every document")."""
    if isinstance(ids, str):
        raise InvalidInputError(f"{method}() takes a list of ids, not a single string: [{ids!r}].")
    if not isinstance(ids, Iterable):
        hint = "; to remove every document pass index.ids" if method == "delete" else ""
        raise InvalidInputError(f"{method}() takes a list of ids, got {ids!r}{hint}.")
    out = list(ids)
    if stray := first_stray(out, str):
        i, doc_id = stray
        raise InvalidInputError(
            f"ids[{i}] is {doc_id!r}; document ids are str (write {str(doc_id)!r})."
        )
    return out
