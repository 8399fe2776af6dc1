"""The funnel's defaults, in one place, chosen by evidence rather than taste.

``Pipeline``, the CLI and both framework adapters read these, so they cannot drift apart.
Each value was picked by ``shortlist eval --mode ...`` on both shared collections as a
user would pick a setting -- one for all collections, the one whose worst shortfall
against the best setting found on each collection is smallest, among the settings that
rerank (``python -m benchmarks.modes`` renders the table: docs/results/modes.md).
"""

from __future__ import annotations

STAGE1_MODE = "hybrid"
"""Stage 1 where the index has BM25 (dense where it has not)."""

HYBRID_ALPHA: float | None = 0.5
"""Hybrid fusion: a convex mix of min-max-normalised dense and BM25 scores with this dense
weight (LlamaIndex's convention: 1 = dense only); None = reciprocal rank fusion."""

FETCH_K = 100
"""Candidates stage 1 hands to the reranker."""

FUSION: str | None = "weighted:w=0.2"
"""How the retrieval and rerank scores combine: ``0.2 * minmax(rerank) + 0.8 *
minmax(retrieval)``. The shipped MS MARCO cross-encoder alone ranks *worse* than hybrid
stage 1 on both shared collections; leaning on retrieval keeps what it gains on some
queries without its losses on others. With a reranker tuned for your domain
(``shortlist tune``), or on web-like data, give it more weight (``weighted:w=0.5``) or
none of this (``fusion=None``)."""
