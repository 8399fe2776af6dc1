"""LangChain ``Document`` <-> shortlist ``Document``/``Hit`` conversions.

Every function returns new objects with deep-copied metadata: LangChain documents handed
in by a caller are never mutated (LangChain's own ``CrossEncoderReranker`` keeps them
intact too, LlamaIndex's rerankers do not), and editing a returned document's nested
metadata cannot reach the index. Score keys come from
:meth:`Hit.score_metadata <shortlist.documents.Hit.score_metadata>`, so both adapters write
the same names.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from langchain_core.documents import Document as LCDocument

from shortlist._adapters import candidate
from shortlist.documents import Document, Hit


def hit_to_lc(hit: Hit) -> LCDocument:
    """A retrieval/pipeline hit as a LangChain document carrying its stage scores."""
    metadata = {**hit.document.metadata_copy(), **hit.score_metadata()}
    return LCDocument(id=hit.id, page_content=hit.text, metadata=metadata)


def document_to_lc(doc: Document) -> LCDocument:
    """A stored document as a LangChain document, metadata exactly as stored (no scores)."""
    return LCDocument(id=doc.id, page_content=doc.text, metadata=doc.metadata_copy())


def lc_to_candidates(documents: Sequence[LCDocument]) -> list[Hit]:
    """Wrap LangChain documents as stage-1 hits; only ``page_content`` gets scored."""
    return [
        candidate(i, doc.page_content, id=doc.id or None, metadata=doc.metadata)
        for i, doc in enumerate(documents)
    ]


def reranked_copy(original: LCDocument, hit: Hit) -> LCDocument:
    """A copy of ``original`` with the rerank scores added to (a deep copy of) its metadata."""
    metadata = {**copy.deepcopy(original.metadata), **hit.score_metadata()}
    return original.model_copy(update={"metadata": metadata})
