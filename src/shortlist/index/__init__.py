"""The stage-1 index: FAISS vectors and BM25 over one document store (build, update,
filter, search in dense, bm25 or hybrid mode, persist)."""

from shortlist.index.base import BaseIndex
from shortlist.index.faiss_index import Index
from shortlist.index.filters import Filter
from shortlist.index.lexical import Bm25
from shortlist.index.sharded import ShardedIndex
from shortlist.index.specs import IndexSpec

__all__ = ["BaseIndex", "Bm25", "Filter", "Index", "IndexSpec", "ShardedIndex"]
