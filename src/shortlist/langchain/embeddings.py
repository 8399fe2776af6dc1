"""Any LangChain ``Embeddings`` object as a shortlist :class:`~shortlist.encoders.Encoder`.

This is what lets :class:`~shortlist.index.Index` (and so the vector store adapter) run on
OpenAI, Cohere, HuggingFace or fake LangChain embeddings without shortlist knowing them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings

from shortlist._validate import positive_int
from shortlist.encoders.base import EncoderBase
from shortlist.errors import InvalidInputError

_PROBE = "shortlist dimension probe"


class LangChainEmbeddingsEncoder(EncoderBase):
    """Adapts ``embeddings.embed_documents`` / ``embed_query`` to the Encoder protocol.

    Args:
        embeddings: any ``langchain_core.embeddings.Embeddings``.
        name: identifier stored in saved index manifests; an index reloaded later must
            use an encoder with the same name. Defaults to
            ``"langchain:<Class>[:<model>]:<dim>d"``.
        dim: vector length. Found by embedding one probe string when omitted; pass it to
            save that call (e.g. for a paid API).

    ``batch_size`` and ``show_progress`` are ignored: LangChain embeddings batch on their
    own (e.g. ``OpenAIEmbeddings.chunk_size``), and re-chunking would only add API calls.
    """

    def __init__(
        self, embeddings: Embeddings, *, name: str | None = None, dim: int | None = None
    ) -> None:
        if not isinstance(embeddings, Embeddings):
            raise InvalidInputError(
                f"embeddings must be a langchain_core Embeddings, got {type(embeddings).__name__}."
            )
        self.embeddings = embeddings
        if dim is None:
            dim = len(embeddings.embed_query(_PROBE))
        self._dim = positive_int("dim", dim)
        self._name = name or _default_name(embeddings, dim)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        """Embed documents with ``embed_documents``: a ``(len(texts), dim)`` float32 array."""
        items = list(texts)
        return self._checked(self.embeddings.embed_documents(items) if items else [], len(items))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with ``embed_query`` (models may embed queries differently)."""
        items = list(texts)
        return self._checked([self.embeddings.embed_query(t) for t in items], len(items))

    def _checked(self, vectors: list[list[float]], n: int) -> np.ndarray:
        if n == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.shape != (n, self._dim):
            raise InvalidInputError(
                f"{type(self.embeddings).__name__} returned vectors of shape {arr.shape}, "
                f"expected ({n}, {self._dim}); pass the right dim= or check the model."
            )
        return arr

    def __repr__(self) -> str:
        return f"LangChainEmbeddingsEncoder(name={self._name!r}, dim={self._dim})"


def _default_name(embeddings: Embeddings, dim: int) -> str:
    parts = ["langchain", type(embeddings).__name__]
    for attr in ("model", "model_name"):
        value = getattr(embeddings, attr, None)
        if isinstance(value, str) and value:
            parts.append(value)
            break
    return f"{':'.join(parts)}:{dim}d"
