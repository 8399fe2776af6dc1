"""The optional score cache: repeats are not rescored, counts are visible, memory is bounded,
and a degraded answer is never cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shortlist.rerank import load_reranker
from shortlist.rerank.cache import ScoreCache
from shortlist.rerank.cohere import CohereReranker
from shortlist.rerank.fallback import FallbackReranker
from shortlist.rerank.onnx import OnnxReranker
from tests.fakes.cohere_server import FakeCohere, Reply
from tests.rerank.conftest import QUERY, TEXTS


def test_repeated_pairs_are_served_from_the_cache(onnx_model_path: Path) -> None:
    reranker = OnnxReranker(onnx_model_path).with_cache(1_000)
    first = reranker.score(QUERY, TEXTS)
    again = reranker.score(QUERY, TEXTS)
    np.testing.assert_array_equal(first, again)
    info = reranker.cache_info()
    assert info is not None and (info.hits, info.misses, info.size) == (6, 6, 6)
    # a new candidate beside known ones: only it is scored, and in its right place
    mixed = reranker.score(QUERY, [TEXTS[2], "Citrus fruit prevents scurvy.", TEXTS[0]])
    info = reranker.cache_info()
    assert info is not None and (info.hits, info.misses) == (8, 7)
    fresh = OnnxReranker(onnx_model_path).score(
        QUERY, [TEXTS[2], "Citrus fruit prevents scurvy.", TEXTS[0]]
    )
    np.testing.assert_array_equal(mixed, fresh)
    assert OnnxReranker(onnx_model_path).cache_info() is None  # off by default


def test_keys_separate_models_and_queries_and_evict_oldest() -> None:
    cache = ScoreCache(max_pairs=3)
    cache.store("onnx:a", "q", ["x", "y"], np.array([0.1, 0.2]))
    found, missing = cache.lookup("onnx:b", "q", ["x"])  # another model's score is not ours
    assert missing == [0] and np.isnan(found[0])
    found, missing = cache.lookup("onnx:a", "q2", ["x"])  # nor another query's
    assert missing == [0]
    cache.lookup("onnx:a", "q", ["x"])  # x is now the most recent
    cache.store("onnx:a", "q", ["z", "w"], np.array([0.3, 0.4]))  # 4 > 3: y goes
    found, missing = cache.lookup("onnx:a", "q", ["x", "y", "z", "w"])
    assert missing == [1] and found[[0, 2, 3]].tolist() == [0.1, 0.3, 0.4]
    assert len(cache) == 3
    with pytest.raises(ValueError, match="max_pairs"):
        ScoreCache(0)


def test_cohere_repeats_make_no_request(fake_cohere: FakeCohere) -> None:
    reranker = CohereReranker(
        api_key=fake_cohere.api_key, base_url=fake_cohere.url, timeout=10
    ).with_cache(100)
    try:
        first = [(r.index, r.score) for r in reranker.rerank(QUERY, TEXTS, top_n=3)]
        again = [(r.index, r.score) for r in reranker.rerank(QUERY, TEXTS, top_n=3)]
    finally:
        reranker.close()
    assert first == again
    assert len(fake_cohere.requests) == 1  # the second answer cost no API call


def test_a_chain_caches_member_scores_but_not_the_degraded_answer(
    fake_cohere: FakeCohere, onnx_model_path: Path
) -> None:
    cohere = load_reranker(
        "cohere:rerank-v3.5", api_key=fake_cohere.api_key, base_url=fake_cohere.url,
        timeout=10, max_retries=0,
    )  # fmt: skip
    chain = FallbackReranker([cohere], degraded="stage1").with_cache(100)
    fake_cohere.always(Reply(503))
    hits = chain.rerank(QUERY, TEXTS)  # degraded: stage-1 order, nothing to cache
    assert [h.index for h in hits] == list(range(len(TEXTS)))
    info = chain.cache_info()
    assert info is not None and info.size == 0
    fake_cohere.reset()
    chain.rerank(QUERY, TEXTS)  # cohere is back (breaker closed: one failure < threshold)
    chain.rerank(QUERY, TEXTS)
    info = chain.cache_info()
    assert info is not None and (info.size, info.hits) == (6, 6)
    assert len(fake_cohere.requests) == 1
