"""The encoder contract the index depends on: any embedding function can be plugged in.

The index only needs a name (recorded in the manifest so a mismatched query encoder is
caught at load time), a dimension, and two batch encode calls. That is what lets the
LangChain adapter wrap any ``Embeddings`` object and the standard test-suites run with a
6-dimensional fake embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from shortlist._optional import require
from shortlist.errors import InvalidInputError


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into float32 vectors; documents and queries may be encoded differently."""

    @property
    def name(self) -> str:
        """Stable identifier of the model (hub id or folder name), stored in manifests."""
        ...

    @property
    def dim(self) -> int:
        """Length of every vector this encoder returns."""
        ...

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        """Embed documents: a ``(len(texts), dim)`` float32 array."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries: a ``(len(texts), dim)`` float32 array."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-normalise so inner product equals cosine similarity; zero rows stay zero.

    Computed in float64 and rounded once, so a row's result depends only on the row, not
    on the batch around it (NumPy's float32 reductions vary with memory alignment): one
    index and the shards of it store bit-identical vectors.
    """
    wide = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))[:, None]
    out = np.divide(wide, norms, out=np.zeros_like(wide), where=norms > 0)
    return np.ascontiguousarray(out, dtype=np.float32)


class EncoderBase:
    """What shortlist's own encoders share: a name and a vector length fixed when the model
    loads, read-only afterwards (an index records both and checks them on every load)."""

    _name: str
    _dim: int

    @property
    def name(self) -> str:
        """Stable identifier of the model, recorded in index manifests."""
        return self._name

    @property
    def dim(self) -> int:
        """Length of every vector this encoder returns."""
        return self._dim


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a list, each checked to be a str (a lone str is refused: a common slip)."""
    if isinstance(texts, str):
        raise InvalidInputError("Pass a list of strings, not a single string.")
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise InvalidInputError(f"texts[{i}] is a {type(t).__name__}; expected str.")
    return items


def progress(total: int, show: bool) -> Any:
    """A tqdm bar over ``total`` documents, or None when not shown."""
    if not show:
        return None
    tqdm = require("tqdm", feature="Progress bars").tqdm
    return tqdm(total=total, desc="Embedding", unit="doc", dynamic_ncols=True)
