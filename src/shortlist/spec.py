"""One grammar for every spec string: rerankers, fusions, index types, stage-1 modes, encoders.

A config file, a command line and a serialised adapter each carry a choice as one short
string; writing the grammar once means one set of rules to learn and one error style.
Each caller keeps its own *vocabulary* (which names and options exist) and uses this module
to parse, to convert option values and to word its errors. Documented in ``docs/specs.md``.

Grammar::

    spec     := name [ ":" argument ] [ "?" options ]
              | name ":" options                  (no argument: options right after ":")
    options  := option { ("," | "&") option }     ("," is canonical; "&" is accepted)
    option   := key "=" value                     (key: a Python identifier)

``name`` is case-insensitive. After the first ``":"`` comes either the argument (a model, a
directory, a FAISS factory string, a nested spec) or, where every comma-separated item is
``key=value`` and no ``"?"`` follows, the options: ``rrf:k=60`` means ``rrf?k=60``. The
argument runs to the first ``"?"``, so it may hold ``":"`` and ``","``
(``onnx:/models/a:b``, ``faiss:IVF1024,Flat``). Fallback chains join specs with ``" | "``.

Imports nothing but the standard library and :mod:`shortlist.errors`.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from shortlist.errors import InvalidInputError

__all__ = [
    "CHAIN",
    "Spec",
    "call_options",
    "check_options",
    "closest",
    "convert",
    "format_spec",
    "keyword_params",
    "parse",
    "split_chain",
    "unknown",
]

CHAIN = "|"
"""Joins the members of a fallback chain: ``"cohere:rerank-v3.5 | onnx:<dir>"``."""

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEPARATORS = re.compile(r"[,&]")


@dataclass(frozen=True)
class Spec:
    """A parsed spec: ``name``, an optional ``argument`` and ``options`` in written order.

    ``argument`` is ``None`` when no ``":"`` was written and ``""`` when nothing followed
    it (callers that need an argument say so). ``text`` is the spec as written, for errors.
    """

    name: str
    argument: str | None = None
    options: Mapping[str, str] = field(default_factory=dict, hash=False)
    text: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        if not self.text:
            object.__setattr__(self, "text", str(self))

    def __str__(self) -> str:
        return format_spec(self.name, self.argument, self.options)


def parse(text: str, *, what: str = "spec") -> Spec:
    """Parse ``text`` by the grammar above; ``what`` names the spec in errors."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"A {what} must be a non-empty string, got {text!r}.")
    raw = text.strip()
    head, qmark, query = raw.partition("?")
    name, colon, body = head.partition(":")
    name = name.strip().lower()
    if not name:
        raise InvalidInputError(f"{what.capitalize()} {raw!r} has no name before ':'.")
    argument: str | None = None
    options: dict[str, str] = {}
    if colon:
        body = body.strip()
        if body and not qmark and _is_option_list(body):
            options = _options(body, raw, what)
        else:
            argument = body
    if qmark:
        options = _options(query, raw, what)
    return Spec(name, argument, options, text=raw)


def format_spec(
    name: str, argument: str | None = None, options: Mapping[str, object] | None = None
) -> str:
    """The canonical spelling, which :func:`parse` reads back to the same :class:`Spec`.

    Options follow ``":"`` when there is no argument (``rrf:k=60``) and ``"?"`` when there
    is (``onnx:DIR?threads=2,dequantize=true``), joined by ``","``; ``None`` values are
    left out (the default applies on reload) and booleans are written ``true``/``false``.
    """
    rendered = [
        f"{key}={'true' if value is True else 'false' if value is False else value}"
        for key, value in (options or {}).items()
        if value is not None
    ]
    text = name if argument is None else f"{name}:{argument}"
    if rendered:
        # an argument that reads as options must be closed by "?" to stay an argument
        text += "?" if argument is not None else ":"
        text += ",".join(rendered)
    elif argument and _is_option_list(argument):
        text += "?"
    return text


def split_chain(text: str) -> list[str]:
    """The member specs of ``"a | b | c"`` (stripped; an empty member is an error)."""
    members = [part.strip() for part in text.split(CHAIN)]
    if any(not member for member in members):
        raise InvalidInputError(
            f"Spec {text!r} has an empty member; write e.g. "
            "'cohere:rerank-v3.5 | onnx:<model dir>'."
        )
    return members


def closest(name: str, valid: Iterable[str]) -> str | None:
    """The valid name ``name`` most likely misspells, if any is close."""
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown(
    kind: str,
    name: str,
    valid: Iterable[str],
    *,
    owner: str | None = None,
    spec: Spec | str | None = None,
    plural: str | None = None,
    error: type[InvalidInputError] = InvalidInputError,
) -> InvalidInputError:
    """The one "unknown name" error: the name, whose, the spec, the closest valid name, all.

    ``Unknown reranker backend 'onx' in 'onx:m'. Did you mean 'onnx'? Valid reranker
    backends: ...``. Returned, not raised, so callers ``raise unknown(...)`` and type
    checkers see it.
    """
    names = list(valid)
    text = spec.text if isinstance(spec, Spec) else spec
    whose = f" for {owner}" if owner else ""
    where = f" in {text!r}" if text and text != name else ""
    close = closest(name, names)
    hint = f" Did you mean {close!r}?" if close else ""
    listed = ", ".join(names) or "none"
    return error(
        f"Unknown {kind} {name!r}{whose}{where}.{hint} Valid {plural or kind + 's'}: {listed}."
    )


def check_options(spec: Spec, valid: Iterable[str], owner: str) -> None:
    """Raise :func:`unknown` for the first option of ``spec`` that ``owner`` does not take."""
    names = list(valid)
    for key in spec.options:
        if key not in names:
            raise unknown("option", key, names, owner=owner, spec=spec)


def convert(spec: Spec, key: str, kind: type | None = None) -> Any:
    """Option ``key``'s value as ``kind`` (``int``, ``float``, ``bool`` or ``str``).

    ``kind=None`` guesses: ``true``/``false``, then an integer, then a number, else the
    string (for backends whose option types live in their constructors). A value that is
    not of its kind raises :class:`InvalidInputError` naming the option and the spec.
    """
    raw = spec.options[key]
    if kind is None:
        for guess in (bool, int, float):
            try:
                return _convert(raw, guess)
            except ValueError:
                pass
        return raw
    try:
        return _convert(raw, kind)
    except ValueError:
        names = {int: "an integer", float: "a number", bool: "true or false"}
        what = names.get(kind, kind.__name__)
        if kind is float and raw.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
            what = "a finite number"
        raise InvalidInputError(
            f"Option {key!r} in {spec.text!r} must be {what}, got {raw!r}."
        ) from None


def call_options(
    spec: Spec,
    accepted: Iterable[str],
    given: Mapping[str, Any],
    *,
    owner: str,
    keyword_only: Iterable[str] = (),
) -> dict[str, Any]:
    """A constructor's keyword arguments: ``spec``'s options (converted, checked against
    ``accepted``) merged with ``given`` ones; naming one both ways is an error.

    ``keyword_only`` options (``trust_remote_code``) may not come from a string: a config
    value or a command line must not switch on running code from a model folder.
    """
    forbidden = sorted(set(keyword_only) & set(spec.options))
    if forbidden:
        raise InvalidInputError(
            f"Spec {spec.text!r} sets {forbidden[0]}: a spec string (a config value, a command "
            f"line, a serialised adapter) may not run code from a model folder. Pass "
            f"{forbidden[0]}=True as a Python keyword argument, and only for a model you trust."
        )
    check_options(spec, accepted, owner)
    twice = sorted(set(spec.options) & set(given))
    if twice:
        raise InvalidInputError(
            f"Option(s) {', '.join(map(repr, twice))} given both in the spec ({spec.text!r}) "
            "and as keyword arguments. Give each once."
        )
    return {**{key: convert(spec, key) for key in spec.options}, **given}


def keyword_params(cls: type) -> list[str]:
    """The names ``cls(...)`` takes as keywords: the options a spec for it may carry."""
    params = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
    return [
        p.name
        for p in params
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _convert(raw: str, kind: type) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(raw)
        return lowered == "true"
    if kind is float:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return value
    return kind(raw)


def _is_option_list(body: str) -> bool:
    """Whether ``body`` reads as ``key=value`` items (so ``rrf:k=60`` holds options)."""
    for item in filter(str.strip, _SEPARATORS.split(body)):
        key, eq, _ = item.partition("=")
        if not eq or not _KEY.fullmatch(key.strip()):
            return False
    return True


def _options(query: str, text: str, what: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in _SEPARATORS.split(query):
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not _KEY.fullmatch(key):
            raise InvalidInputError(
                f"{what.capitalize()} {text!r}: option {item.strip()!r} is not name=value; "
                "write e.g. 'onnx:<dir>?threads=2,dequantize=true' or 'hnsw:m=32'."
            )
        if key in options:
            raise InvalidInputError(f"{what.capitalize()} {text!r} sets {key!r} twice.")
        options[key] = value.strip()
    return options
