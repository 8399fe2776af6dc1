"""Rerankers: one interface (:class:`Reranker`), three backends, one loader.

``load_reranker("onnx:/models/ms-marco")`` picks a backend by name. The registry holds
dotted strings, so importing this package imports no backend and nothing heavy (torch,
onnxruntime, cohere load only when a backend is built).

Spec grammar::

    spec    := backend [ ":" model ] [ "?" option { "&" option } ]
    backend := "cross-encoder" | "onnx" | "cohere"
    model   := anything but "?" (hub id, local directory, Cohere model name); split on the
               first ":"
    option  := name "=" value       (true/false, integers and floats are converted; any
                                     other value is a string, e.g. activation=none)

A fallback chain joins specs with ``|``: ``"cohere:rerank-v3.5 | onnx:/path/to/dir"``
(see :mod:`shortlist.rerank.fallback`).

Examples: ``"cohere:rerank-v3.5"``, ``"cross-encoder:cross-encoder/ms-marco-MiniLM-L-6-v2"``,
``"onnx:/path/to/dir"``, ``"onnx"`` (the backend's default model),
``"onnx:/path/to/dir?dequantize=true&threads=1"`` (options in the string, so a config file
or a command line can carry them).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from typing import TYPE_CHECKING, Any

from shortlist._validate import known_names
from shortlist.errors import InvalidInputError, UnknownBackendError
from shortlist.rerank.base import Reranker
from shortlist.rerank.ranking import RerankResult

if TYPE_CHECKING:
    from shortlist.rerank.cohere import CohereReranker
    from shortlist.rerank.cross_encoder import CrossEncoderReranker
    from shortlist.rerank.fallback import FallbackReranker
    from shortlist.rerank.onnx import OnnxReranker

BACKENDS: dict[str, str] = {
    "cross-encoder": "shortlist.rerank.cross_encoder:CrossEncoderReranker",
    "onnx": "shortlist.rerank.onnx:OnnxReranker",
    "cohere": "shortlist.rerank.cohere:CohereReranker",
    "ray": "shortlist.scale.serve:RayServeReranker",
}
"""Backend name -> ``"module:Class"``. Adding a backend is one line here."""

KEYWORD_ONLY_OPTIONS = frozenset({"trust_remote_code"})
"""Options a spec string may not carry: only Python code can switch them on."""

_ALIASES = {"cross_encoder": "cross-encoder", "crossencoder": "cross-encoder"}

_LAZY = {
    "CrossEncoderReranker": "shortlist.rerank.cross_encoder",
    "FallbackReranker": "shortlist.rerank.fallback",
    "OnnxReranker": "shortlist.rerank.onnx",
    "CohereReranker": "shortlist.rerank.cohere",
}

__all__ = [
    "BACKENDS",
    "CohereReranker",
    "CrossEncoderReranker",
    "FallbackReranker",
    "OnnxReranker",
    "RerankResult",
    "Reranker",
    "as_reranker",
    "check_reranker",
    "load_reranker",
]


def _parse_spec(spec: str) -> tuple[str, str | None]:
    """Split ``"backend[:model][?options]"`` into (backend, model or None), validating both."""
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInputError(
            f"Reranker spec must be a non-empty string like 'onnx' or 'cohere:rerank-v3.5', "
            f"got {spec!r}."
        )
    name, sep, model = spec.strip().partition("?")[0].partition(":")
    backend = name.strip().lower()
    backend = _ALIASES.get(backend, backend)
    if backend not in BACKENDS:
        close = difflib.get_close_matches(backend, list(BACKENDS), n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownBackendError(
            f"Unknown reranker backend {name.strip()!r}.{hint} "
            f"Valid backends: {', '.join(sorted(BACKENDS))}."
        )
    if sep and not model.strip():
        raise InvalidInputError(
            f"Reranker spec {spec!r} names no model after ':'. Write '{backend}:<model>', or "
            f"just '{backend}' for its default model."
        )
    return backend, (model.strip() if sep else None)


def _spec_options(spec: str) -> dict[str, Any]:
    """The ``?name=value&...`` options of a spec, with scalar values converted.

    >>> _spec_options("onnx:/models/x?dequantize=true&threads=2")
    {'dequantize': True, 'threads': 2}
    """
    _, sep, query = spec.strip().partition("?")
    options: dict[str, Any] = {}
    if not sep:
        return options
    for part in query.split("&"):
        name, eq, raw = part.partition("=")
        name = name.strip()
        if not eq or not name.isidentifier():
            raise InvalidInputError(
                f"Reranker spec {spec!r}: option {part!r} is not name=value; write e.g. "
                "'onnx:/path?dequantize=true&threads=2'."
            )
        if name in options:
            raise InvalidInputError(f"Reranker spec {spec!r} sets {name!r} twice.")
        options[name] = _scalar(raw.strip())
    return options


def _scalar(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    return raw


def _backend_class(name: str) -> type[Reranker]:
    """Import and return the class registered for backend ``name``."""
    backend, _ = _parse_spec(name)
    module_name, _, class_name = BACKENDS[backend].partition(":")
    cls: type[Reranker] = getattr(importlib.import_module(module_name), class_name)
    return cls


def load_reranker(spec: str, **options: Any) -> Reranker:
    """Build a reranker from a spec string; ``options`` go to the backend's constructor.

    >>> load_reranker("onnx:/models/ms-marco-MiniLM-L-12-v2-onnx-int8", batch_size=16)
    >>> load_reranker("onnx:/models/ms-marco-MiniLM-L-12-v2-onnx-int8?dequantize=true")
    >>> load_reranker("cohere", api_key="...", timeout=10)

    Options in the spec and keyword options are merged; naming one in both is an error.

    Unknown backends raise :class:`~shortlist.errors.UnknownBackendError`; an option the
    backend does not take raises :class:`~shortlist.errors.InvalidInputError` naming the
    valid ones (instead of a bare ``TypeError`` from deep inside).
    """
    if isinstance(spec, str) and "|" in spec:
        return _load_chain(spec, options)
    cls, kwargs = _constructor_call(spec, options)
    return cls(**kwargs)


def check_reranker(spec: str, **options: Any) -> None:
    """Raise every error :func:`load_reranker` would raise before a model loads, loading none.

    Checks the backend name, the options, and what the backend's
    :meth:`~shortlist.rerank.Reranker.preflight` can check cheaply (an ONNX model's folder,
    a Cohere API key). Imports no torch, onnxruntime or cohere: the command line calls it
    before loading an index, so a typo costs milliseconds, not a model load.
    A fallback chain (``"a | b"``) checks each member.
    """
    if isinstance(spec, str) and "|" in spec:
        for member in (p.strip() for p in spec.split("|")):
            check_reranker(member)
        return
    cls, kwargs = _constructor_call(spec, options)
    cls.preflight(kwargs)


def check_spec(spec: str) -> None:
    """Raise what is wrong with a spec's grammar (backend, option names and values), without
    looking for its model or key: a config may name a model this machine does not have yet."""
    if isinstance(spec, str) and "|" in spec:
        for member in (p.strip() for p in spec.split("|")):
            check_spec(member)
        return
    _constructor_call(spec, {})


def _constructor_call(spec: str, options: dict[str, Any]) -> tuple[type[Reranker], dict[str, Any]]:
    """The backend class and the keyword arguments for it, all validated against its signature."""
    backend, model = _parse_spec(spec)
    in_spec = _spec_options(spec)
    twice = sorted(set(in_spec) & set(options))
    if twice:
        raise InvalidInputError(
            f"Option(s) {', '.join(map(repr, twice))} given both in the spec ({spec!r}) and as "
            "keyword arguments. Give each once."
        )
    if KEYWORD_ONLY_OPTIONS & set(in_spec):
        raise InvalidInputError(
            f"Reranker spec {spec!r} sets trust_remote_code: a spec string (a config value, "
            "--reranker, a serialised adapter) may not run code from a model folder. Pass "
            "trust_remote_code=True as a Python keyword argument to load_reranker() or the "
            "reranker class, and only for a model you trust."
        )
    options = {**in_spec, **options}
    cls = _backend_class(backend)
    known_names(f"the {backend!r} reranker", options, _keyword_params(cls))
    if model is not None:
        if "model" in options:
            raise InvalidInputError(
                f"The model is given twice: in the spec ({spec!r}) and as model="
                f"{options['model']!r}. Give it once."
            )
        options["model"] = model
    return cls, options


_CHAIN_OPTIONS = ("degraded", "failure_threshold", "reset_seconds")


def _load_chain(spec: str, options: dict[str, Any]) -> Reranker:
    """``"a | b | c"``: a :class:`~shortlist.rerank.fallback.FallbackReranker` over the
    members, primary first. Keyword options are the chain's policy only."""
    from shortlist.rerank.fallback import FallbackReranker

    known_names("a fallback chain", options, list(_CHAIN_OPTIONS))
    parts = [p.strip() for p in spec.split("|")]
    if any(not p for p in parts):
        raise InvalidInputError(
            f"Reranker spec {spec!r} has an empty member; write e.g. "
            "'cohere:rerank-v3.5 | onnx:<model dir>'."
        )
    return FallbackReranker([load_reranker(p) for p in parts], **options)


def as_reranker(reranker: Reranker | str) -> Reranker:
    """A :class:`Reranker` as is, or a spec string loaded with :func:`load_reranker`.

    The one place that accepts "a reranker or its spec", so the pipeline, both framework
    adapters, evaluation and the CLI take the same inputs and raise the same errors.
    """
    if isinstance(reranker, Reranker):
        return reranker
    if isinstance(reranker, str):
        return load_reranker(reranker)
    raise InvalidInputError(
        f"reranker must be a shortlist Reranker or a spec string such as 'onnx:<model>' or "
        f"'cohere:rerank-v3.5', got {type(reranker).__name__}."
    )


def _keyword_params(cls: type[Reranker]) -> list[str]:
    params = inspect.signature(cls.__init__).parameters.values()
    return [
        p.name
        for p in params
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shortlist.rerank' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
