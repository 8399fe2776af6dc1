"""Argument checks shared by every public entry point, so one mistake gets one message.

Each check takes the parameter's name *as the caller spelled it* (``k`` in LangChain,
``similarity_top_k`` in LlamaIndex, ``top_n`` in the core), so the error points at the
argument the user actually wrote. ``bool`` is rejected where a number is expected:
``True`` is an ``int`` to Python, never a count or a threshold to a user.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Literal, overload

from shortlist.errors import InvalidInputError


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
        close = difflib.get_close_matches(name, valid, n=1)
        hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    raise InvalidInputError(
        f"Unknown option(s) for {owner}: {', '.join(hints)}. Valid options: {', '.join(valid)}."
    )
