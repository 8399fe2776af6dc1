"""The stage-1 FAISS index (build, update, filter, search, persist)."""

from shortlist.index.faiss_index import Index
from shortlist.index.filters import Filter
from shortlist.index.specs import IndexSpec, parse_spec

__all__ = ["Filter", "Index", "IndexSpec", "parse_spec"]
