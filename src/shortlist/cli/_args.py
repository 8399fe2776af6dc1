"""Checks shared by the ``shortlist`` subcommands: one error style for a bad flag."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shortlist.errors import InvalidInputError, ShortlistError


def positive(flag: str, value: int, meaning: str) -> None:
    """Refuse a count below 1, saying what the flag counts."""
    if value < 1:
        raise InvalidInputError(f"{flag} must be a positive integer ({meaning}), got {value}.")


def flag_error(flag: str, value: str, exc: ShortlistError) -> InvalidInputError:
    """``exc`` as an error about ``flag``, keeping its message (the fix is in it)."""
    return InvalidInputError(f"{flag} {value!r}: {exc}")


def check_encoder_flag(flag: str, spec: str) -> None:
    """``check_encoder`` with its error naming ``flag`` (milliseconds, no model loads)."""
    from shortlist.encoders import check_encoder

    try:
        check_encoder(spec)
    except ShortlistError as exc:
        raise flag_error(flag, spec, exc) from exc


def check_reranker_flag(flag: str, spec: str) -> None:
    """``check_reranker`` with its error naming ``flag`` (milliseconds, no model loads)."""
    from shortlist.rerank import check_reranker

    try:
        check_reranker(spec)
    except ShortlistError as exc:
        raise flag_error(flag, spec, exc) from exc


def parse_filter(pairs: Sequence[str]) -> dict[str, Any] | None:
    """``--filter key=value`` (repeatable; ``key=a|b`` means a or b); JSON values are parsed."""
    if not pairs:
        return None
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq or not key:
            raise InvalidInputError(f"--filter expects key=value, got {pair!r}.")
        values = [_json_or_str(v) for v in raw.split("|")]
        out[key] = values[0] if len(values) == 1 else {"$in": values}
    return out


def _json_or_str(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw
