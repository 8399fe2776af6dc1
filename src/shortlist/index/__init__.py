"""The stage-1 index: FAISS vectors and BM25 over one document store (build, update,
filter, search in dense, bm25 or hybrid mode, persist)."""

import os
from typing import Any

from shortlist.encoders import Encoder
from shortlist.index.base import BaseIndex
from shortlist.index.faiss_index import Index
from shortlist.index.filters import Filter
from shortlist.index.lexical import Bm25
from shortlist.index.sharded import ShardedIndex
from shortlist.index.specs import IndexSpec

__all__ = ["BaseIndex", "Bm25", "Filter", "Index", "IndexSpec", "ShardedIndex", "load_index"]


def load_index(
    path: str | os.PathLike[str], encoder: Encoder | str | os.PathLike[str] | None = None
) -> BaseIndex:
    """Open a saved index of either kind (the same as :meth:`Index.load`)."""
    return Index.load(path, encoder)


def read_any_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The verified manifest of a saved index of either kind (``shortlist info``)."""
    from pathlib import Path

    from shortlist.index.sharded_storage import is_sharded, read_manifest

    return read_manifest(Path(path)) if is_sharded(path) else Index.read_manifest(path)
