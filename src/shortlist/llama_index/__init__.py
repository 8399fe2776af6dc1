"""LlamaIndex adapters: a shortlist Index/Pipeline as a retriever, a Reranker as a postprocessor.

``from shortlist.llama_index import ShortlistRetriever, ShortlistRerank``. Importing this
package without ``llama-index-core`` installed raises
:class:`~shortlist.errors.MissingDependencyError` with the pip command, instead of a bare
``ModuleNotFoundError`` from deep inside a submodule. Names load lazily: importing
``ShortlistRerank`` loads neither the index nor FAISS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shortlist._lazy import lazy_names
from shortlist._optional import require

require("llama_index.core", feature="shortlist.llama_index", extra="llama-index")

if TYPE_CHECKING:
    from shortlist.llama_index.filters import to_shortlist_filter
    from shortlist.llama_index.rerank import ShortlistRerank
    from shortlist.llama_index.retriever import ShortlistRetriever

_LAZY = {
    "ShortlistRerank": "shortlist.llama_index.rerank",
    "ShortlistRetriever": "shortlist.llama_index.retriever",
    "to_shortlist_filter": "shortlist.llama_index.filters",
}

__all__ = ["ShortlistRerank", "ShortlistRetriever", "to_shortlist_filter"]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
