"""The funnel's defaults, in one place, chosen by evidence rather than taste.

:class:`shortlist.funnel.Funnel` takes its defaults from here, and every entry point
(``Index.search``, ``Pipeline``, both frameworks' adapters, the CLI, ``evaluate``) defaults
to that funnel, so they cannot drift apart. The values were chosen on three collections
(Cranfield, CISI, MEDLINE) as a user would choose: one setting for all of them, the one
with the smallest worst-case regret, checked leave-one-collection-out
(``python -m benchmarks.modes``: docs/results/modes.md).
"""

from __future__ import annotations

STAGE1_MODE = "hybrid"
"""Stage 1 where the index has BM25 (dense where it has not)."""

HYBRID = "weighted:w=0.7"
"""Hybrid fusion: a convex mix of min-max-normalised dense and BM25 scores, ``w`` the dense
weight (LlamaIndex's ``alpha``: 1 = dense only); ``"rrf:k=60"`` fuses by rank instead."""

HYBRID_ALPHA = 0.7
"""The dense weight of :data:`HYBRID` (what LlamaIndex calls ``alpha``)."""

FETCH_K = 50
"""Candidates stage 1 hands to the reranker (half the reranking of 100, and better: the
rule above chose it)."""

RERANKER = "onnx:cross-encoder/ms-marco-MiniLM-L-12-v2"
"""The funnel's reranker: the int8 ONNX MS MARCO MiniLM-L-12 cross-encoder (resolves
offline from the ``[models]`` extra)."""

TOP_N = 5
"""Results the funnel keeps."""

FUSION = "weighted:w=0.2"
"""What ``fusion="auto"`` fuses with where it fuses (a local cross-encoder over shortlist's
own candidates): ``0.2 * minmax(rerank) + 0.8 * minmax(retrieval)``. The shipped MS MARCO
cross-encoder alone ranks *worse* than hybrid stage 1 on all three shared collections;
leaning on retrieval keeps what it gains on some queries without its losses on others. A
reranker tuned for your domain (``shortlist tune``) or a calibrated funnel
(``shortlist eval --calibrate``) may give it more weight."""
