"""Encoders turn text into vectors for the index; any :class:`Encoder` can be plugged in."""

from __future__ import annotations

import os
import re
from typing import Any

from shortlist.encoders.base import Encoder
from shortlist.encoders.export import export_encoder
from shortlist.encoders.onnx import OnnxEncoder
from shortlist.encoders.sentence_transformers import SentenceTransformerEncoder
from shortlist.errors import InvalidInputError, UnknownBackendError
from shortlist.models import resolve_model
from shortlist.spec import call_options, keyword_params, parse, unknown

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"


ONNX_PREFIX = "onnx:"
"""How an ONNX encoder folder is named: ``"onnx:DIR"`` (``shortlist export-encoder``)."""

PREFIXES: dict[str, type[OnnxEncoder] | type[SentenceTransformerEncoder]] = {
    "onnx": OnnxEncoder,
    "sentence-transformers": SentenceTransformerEncoder,
}
"""Encoder spec names (``"onnx:DIR"``); a name or path without one is sentence-transformers."""

_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]+:")  # two letters at least: "C:\\x" is a path


def load_encoder(
    model: str | os.PathLike[str] | Encoder | None = None, **options: object
) -> Encoder:
    """``model`` if it already is an Encoder; ``"onnx:DIR"`` -> :class:`OnnxEncoder` (no
    torch); any other name or path (optionally ``"sentence-transformers:"``-prefixed) ->
    :class:`SentenceTransformerEncoder`. A prefixed spec may carry options
    (``"onnx:DIR?threads=2"``, ``docs/specs.md``)."""
    if model is None:
        model = DEFAULT_EMBEDDER
    if isinstance(model, Encoder):
        return model
    if not isinstance(model, str | os.PathLike):
        raise InvalidInputError(
            f"encoder must be a model name/path or an object with name, dim, "
            f"encode_documents() and encode_queries(); got {type(model).__name__}."
        )
    cls, name, kwargs = _encoder_call(os.fspath(model), options)
    return cls(name, **kwargs)


def check_encoder(model: str | os.PathLike[str]) -> None:
    """Raise now what :func:`load_encoder` would raise about the spec and where ``model``
    lives, without loading it (a command line rejects a wrong ``--embedder`` before reading
    a corpus)."""
    cls, name, _ = _encoder_call(os.fspath(model), {})
    if cls is OnnxEncoder:
        from pathlib import Path

        from shortlist.encoders.onnx import read_metadata

        read_metadata(Path(name).expanduser())
        return
    resolve_model(name, "sentence-transformers")


def encoder_kind(model: str | os.PathLike[str]) -> str:
    """``"onnx"`` or ``"sentence-transformers"``: which class :func:`load_encoder` builds."""
    cls, _, _ = _encoder_call(os.fspath(model), {})
    return "onnx" if cls is OnnxEncoder else "sentence-transformers"


def _encoder_call(
    model: str, options: dict[str, object]
) -> tuple[type[OnnxEncoder] | type[SentenceTransformerEncoder], str, dict[str, Any]]:
    """The encoder class, its model and keyword arguments for a name or prefixed spec."""
    if not _PREFIX.match(model.strip()):
        return SentenceTransformerEncoder, model, options  # a hub id or a path
    spec = parse(model, what="encoder spec")
    cls = PREFIXES.get(spec.name)
    if cls is None:
        raise unknown(
            "encoder prefix",
            spec.name,
            list(PREFIXES),
            spec=spec,
            plural="encoder prefixes",
            error=UnknownBackendError,
        )
    if not spec.argument:
        raise InvalidInputError(
            f"Encoder spec {spec.text!r} names no model after ':'; write '{spec.name}:<model>'."
        )
    accepted = [p for p in keyword_params(cls) if p != "model"]
    owner = f"the {spec.name!r} encoder"
    kwargs = call_options(spec, accepted, options, owner=owner, keyword_only=_KEYWORD_ONLY)
    return cls, spec.argument, kwargs


_KEYWORD_ONLY = ("trust_remote_code",)


__all__ = [
    "DEFAULT_EMBEDDER",
    "Encoder",
    "OnnxEncoder",
    "SentenceTransformerEncoder",
    "check_encoder",
    "export_encoder",
    "load_encoder",
]
