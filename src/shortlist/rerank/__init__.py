"""Rerankers: one interface (:class:`Reranker`), three backends, one loader.

``load_reranker("onnx:/models/ms-marco")`` picks a backend by name. The registry holds
dotted strings, so importing this package imports no backend and nothing heavy (torch,
onnxruntime, cohere load only when a backend is built).

Specs follow the one grammar of :mod:`shortlist.spec` (``docs/specs.md``)::

    backend [ ":" model ] [ "?" name=value { "," name=value } ]

``backend`` is a name in :data:`BACKENDS`; the model (hub id, local directory, Cohere model
name) runs from the first ":" to "?"; option values are converted (true/false, integers,
numbers; anything else stays a string, e.g. ``activation=none``). A fallback chain joins
specs with ``|``: ``"cohere:rerank-v3.5 | onnx:/path/to/dir"``
(see :mod:`shortlist.rerank.fallback`).

Examples: ``"cohere:rerank-v3.5"``, ``"cross-encoder:cross-encoder/ms-marco-MiniLM-L-6-v2"``,
``"onnx:/path/to/dir"``, ``"onnx"`` (the backend's default model),
``"onnx:/path/to/dir?dequantize=true,threads=1"`` (options in the string, so a config file
or a command line can carry them; ``&`` between options works too).
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shortlist._lazy import lazy_names
from shortlist._plugins import Registry
from shortlist._validate import known_names
from shortlist.errors import InvalidInputError, UnknownBackendError
from shortlist.rerank.base import Reranker
from shortlist.rerank.ranking import RerankResult
from shortlist.spec import (
    CHAIN,
    Spec,
    call_options,
    keyword_params,
    parse,
    split_chain,
    unknown,
)

if TYPE_CHECKING:
    from shortlist.rerank.cohere import CohereReranker
    from shortlist.rerank.cross_encoder import CrossEncoderReranker
    from shortlist.rerank.export import export_reranker
    from shortlist.rerank.fallback import FallbackReranker
    from shortlist.rerank.onnx import OnnxReranker

BACKENDS = Registry(
    "shortlist.rerankers",
    {
        "cross-encoder": "shortlist.rerank.cross_encoder:CrossEncoderReranker",
        "onnx": "shortlist.rerank.onnx:OnnxReranker",
        "cohere": "shortlist.rerank.cohere:CohereReranker",
    },
)
"""Backend name -> ``"module:Class"``: the built-ins here, plug-ins (``"ray"``, from
:mod:`shortlist.scale`) as ``shortlist.rerankers`` entry points (:mod:`shortlist._plugins`)."""

KEYWORD_ONLY_OPTIONS = frozenset({"trust_remote_code"})
"""Options a spec string may not carry: only Python code can switch them on."""

_ALIASES = {"cross_encoder": "cross-encoder", "crossencoder": "cross-encoder"}

_LAZY = {
    "CrossEncoderReranker": "shortlist.rerank.cross_encoder",
    "FallbackReranker": "shortlist.rerank.fallback",
    "OnnxReranker": "shortlist.rerank.onnx",
    "CohereReranker": "shortlist.rerank.cohere",
    "export_reranker": "shortlist.rerank.export",
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
    "export_reranker",
    "load_reranker",
]


def _reranker_spec(text: str) -> Spec:
    """``text`` parsed (:mod:`shortlist.spec`), its backend checked and aliases resolved."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(
            f"Reranker spec must be a non-empty string like 'onnx' or 'cohere:rerank-v3.5', "
            f"got {text!r}."
        )
    spec = parse(text, what="reranker spec")
    backend = _ALIASES.get(spec.name, spec.name)
    if backend not in BACKENDS:
        raise unknown(
            "reranker backend",
            spec.name,
            sorted(BACKENDS),
            spec=spec,
            plural="backends",
            error=UnknownBackendError,
        )
    if spec.argument == "":
        raise InvalidInputError(
            f"Reranker spec {spec.text!r} names no model after ':'. Write '{backend}:<model>', "
            f"or just '{backend}' for its default model."
        )
    return replace(spec, name=backend)


def _backend_class(name: str) -> type[Reranker]:
    """Import and return the class registered for backend ``name``."""
    backend = _reranker_spec(name).name
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
    if isinstance(spec, str) and CHAIN in spec:
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
    if isinstance(spec, str) and CHAIN in spec:
        for member in split_chain(spec):
            check_reranker(member)
        return
    cls, kwargs = _constructor_call(spec, options)
    cls.preflight(kwargs)


def check_spec(spec: str) -> None:
    """Raise what is wrong with a spec's grammar (backend, option names and values), without
    looking for its model or key: a config may name a model this machine does not have yet."""
    if isinstance(spec, str) and CHAIN in spec:
        for member in split_chain(spec):
            check_spec(member)
        return
    _constructor_call(spec, {})


def _constructor_call(spec: str, options: dict[str, Any]) -> tuple[type[Reranker], dict[str, Any]]:
    """The backend class and the keyword arguments for it, all validated against its signature."""
    parsed = _reranker_spec(spec)
    cls = _backend_class(parsed.name)
    accepted = keyword_params(cls)
    owner = f"the {parsed.name!r} reranker"
    options = call_options(
        parsed, accepted, options, owner=owner, keyword_only=KEYWORD_ONLY_OPTIONS
    )
    known_names(owner, options, accepted)
    if parsed.argument is not None:
        if "model" in options:
            raise InvalidInputError(
                f"The model is given twice: in the spec ({parsed.text!r}) and as model="
                f"{options['model']!r}. Give it once."
            )
        options["model"] = parsed.argument
    return cls, options


_CHAIN_OPTIONS = ("degraded", "failure_threshold", "reset_seconds")


def _load_chain(spec: str, options: dict[str, Any]) -> Reranker:
    """``"a | b | c"``: a :class:`~shortlist.rerank.fallback.FallbackReranker` over the
    members, primary first. Keyword options are the chain's policy only."""
    from shortlist.rerank.fallback import FallbackReranker

    known_names("a fallback chain", options, list(_CHAIN_OPTIONS))
    return FallbackReranker([load_reranker(p) for p in split_chain(spec)], **options)


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


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
