"""LlamaIndex adapters: a shortlist Index/Pipeline as a retriever, a Reranker as a postprocessor.

``from shortlist.llama_index import ShortlistRetriever, ShortlistRerank``. Importing this
package without ``llama-index-core`` installed raises
:class:`~shortlist.errors.MissingDependencyError` with the pip command, instead of a bare
``ModuleNotFoundError`` from deep inside a submodule.
"""

from __future__ import annotations

from shortlist._optional import require

require("llama_index.core", feature="shortlist.llama_index", extra="llama-index")

from shortlist.llama_index.filters import to_shortlist_filter  # noqa: E402
from shortlist.llama_index.rerank import ShortlistRerank  # noqa: E402
from shortlist.llama_index.retriever import ShortlistRetriever  # noqa: E402

__all__ = ["ShortlistRerank", "ShortlistRetriever", "to_shortlist_filter"]
