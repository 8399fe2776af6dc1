"""Encoders turn text into vectors for the index; any :class:`Encoder` can be plugged in."""

from __future__ import annotations

import os

from shortlist.encoders.base import Encoder, l2_normalize
from shortlist.encoders.sentence_transformers import SentenceTransformerEncoder
from shortlist.errors import InvalidInputError

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"


def load_encoder(
    model: str | os.PathLike[str] | Encoder | None = None, **options: object
) -> Encoder:
    """Return ``model`` if it already is an Encoder, else a SentenceTransformerEncoder for it."""
    if model is None:
        model = DEFAULT_EMBEDDER
    if isinstance(model, Encoder):
        return model
    if not isinstance(model, str | os.PathLike):
        raise InvalidInputError(
            f"encoder must be a model name/path or an object with name, dim, "
            f"encode_documents() and encode_queries(); got {type(model).__name__}."
        )
    return SentenceTransformerEncoder(model, **options)  # type: ignore[arg-type]


__all__ = [
    "DEFAULT_EMBEDDER",
    "Encoder",
    "SentenceTransformerEncoder",
    "l2_normalize",
    "load_encoder",
]
