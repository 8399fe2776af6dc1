"""LlamaIndex ``NodeWithScore`` <-> shortlist ``Hit`` conversions.

Every function returns new objects. LlamaIndex's own ``SentenceTransformerRerank``
writes scores into the caller's nodes (``node.score = ...``,
``node.node.metadata["retrieval_score"] = ...``); here the input nodes are never touched:
results wrap copies whose metadata is a fresh (deep) copy. Score keys come from
:mod:`shortlist.documents`, so this adapter and the LangChain one write the same names,
and they are hidden from the LLM and embedding views of the node (they describe the
ranking, not the document).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, TextNode

from shortlist._adapters import candidate
from shortlist.documents import Hit


def hit_to_node(hit: Hit) -> NodeWithScore:
    """A retrieval/pipeline hit as a new ``TextNode`` (id = document id) with its score."""
    scores = hit.score_metadata()
    node = TextNode(
        id_=hit.id,
        text=hit.text,
        metadata={**hit.document.metadata_copy(), **scores},
        excluded_llm_metadata_keys=list(scores),
        excluded_embed_metadata_keys=list(scores),
    )
    return NodeWithScore(node=node, score=hit.score)


def node_to_candidate(position: int, node: NodeWithScore) -> Hit:
    """Wrap an input node as a stage-1 hit; only its text (no metadata) gets scored."""
    return candidate(
        position,
        node.node.get_content(metadata_mode=MetadataMode.NONE),
        id=node.node.node_id,
        metadata=node.node.metadata,
        retrieval_score=node.score,
    )


def reranked_node(original: NodeWithScore, hit: Hit) -> NodeWithScore:
    """A new ``NodeWithScore`` over a copy of ``original.node``, carrying the rerank scores."""
    return NodeWithScore(node=_with_scores(original.node, hit.score_metadata()), score=hit.score)


def _with_scores(node: BaseNode, scores: Mapping[str, Any]) -> BaseNode:
    """Copy ``node`` with ``scores`` merged into fresh metadata and excluded from LLM/embed text.

    The copy is shallow apart from the metadata and the exclusion lists (the only fields
    written), so an ``IndexNode`` pointing at a live object or a node carrying a large
    embedding is not duplicated.
    """
    metadata = copy.deepcopy(dict(node.metadata))
    metadata.update(scores)
    return node.model_copy(
        update={
            "metadata": metadata,
            "excluded_llm_metadata_keys": _extend(node.excluded_llm_metadata_keys, scores),
            "excluded_embed_metadata_keys": _extend(node.excluded_embed_metadata_keys, scores),
        }
    )


def _extend(keys: list[str], scores: Mapping[str, Any]) -> list[str]:
    return [*keys, *(k for k in scores if k not in keys)]
