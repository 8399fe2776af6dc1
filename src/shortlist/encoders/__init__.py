"""Encoders turn text into vectors for the index; any :class:`Encoder` can be plugged in."""

from __future__ import annotations

import os

from shortlist.encoders.base import Encoder, l2_normalize
from shortlist.encoders.export import export_encoder
from shortlist.encoders.onnx import OnnxEncoder
from shortlist.encoders.sentence_transformers import SentenceTransformerEncoder
from shortlist.errors import InvalidInputError
from shortlist.models import resolve_model

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"


ONNX_PREFIX = "onnx:"
ST_PREFIX = "sentence-transformers:"


def load_encoder(
    model: str | os.PathLike[str] | Encoder | None = None, **options: object
) -> Encoder:
    """``model`` if it already is an Encoder; ``"onnx:DIR"`` -> :class:`OnnxEncoder` (no
    torch); any other name or path (optionally ``"sentence-transformers:"``-prefixed) ->
    :class:`SentenceTransformerEncoder`."""
    if model is None:
        model = DEFAULT_EMBEDDER
    if isinstance(model, Encoder):
        return model
    if not isinstance(model, str | os.PathLike):
        raise InvalidInputError(
            f"encoder must be a model name/path or an object with name, dim, "
            f"encode_documents() and encode_queries(); got {type(model).__name__}."
        )
    name = os.fspath(model)
    if name.startswith(ONNX_PREFIX):
        return OnnxEncoder(name[len(ONNX_PREFIX) :], **options)  # type: ignore[arg-type]
    name = name.removeprefix(ST_PREFIX)
    return SentenceTransformerEncoder(name, **options)  # type: ignore[arg-type]


def check_encoder(model: str | os.PathLike[str]) -> None:
    """Raise now what :func:`load_encoder` would raise about where ``model`` lives, without
    loading it (a command line rejects a wrong ``--embedder`` before reading a corpus)."""
    name = os.fspath(model)
    if name.startswith(ONNX_PREFIX):
        from pathlib import Path

        from shortlist.encoders.onnx import read_metadata

        read_metadata(Path(name[len(ONNX_PREFIX) :]).expanduser())
        return
    resolve_model(name.removeprefix(ST_PREFIX), "sentence-transformers")


__all__ = [
    "DEFAULT_EMBEDDER",
    "Encoder",
    "OnnxEncoder",
    "SentenceTransformerEncoder",
    "check_encoder",
    "export_encoder",
    "l2_normalize",
    "load_encoder",
]
