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

HYBRID_ALPHA: float | None = None
"""Hybrid fusion: None = reciprocal rank fusion; a weight = convex mix (1 = dense only)."""

FETCH_K = 100
"""Candidates stage 1 hands to the reranker."""

FUSION: str | None = None
"""How the retrieval and rerank rankings combine (None: the reranker's order alone)."""
