"""Fallback chains: the next member answers, breakers skip a failing one, stage-1 order
when all fail, and every hit names what scored it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np
import pytest

from shortlist.documents import SCORED_BY_KEY, STAGE1, Document, Hit
from shortlist.errors import InvalidInputError, RerankerAPIError, RerankerTimeoutError
from shortlist.rerank import load_reranker
from shortlist.rerank.base import Reranker
from shortlist.rerank.cohere import CohereReranker
from shortlist.rerank.fallback import FallbackReranker
from tests.fakes.cohere_server import FakeCohere, Reply


class Scripted(Reranker):
    """Scores by text length; raises ``error`` while it is set."""

    def __init__(self, name: str, error: Exception | None = None) -> None:
        self.name, self.error, self.calls = name, error, 0

    @property
    def spec(self) -> str:
        return f"scripted:{self.name}"

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return np.array([len(t) for t in texts], dtype=np.float64)


HITS = [
    Hit(Document(str(i), "x" * n), score=1.0 - i / 10, rank=i + 1, retrieval_score=1.0 - i / 10)
    for i, n in enumerate([3, 9, 1, 5])
]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_next_member_scores_and_is_named() -> None:
    primary = Scripted("a", RerankerAPIError("down", status_code=503))
    chain = FallbackReranker([primary, Scripted("b")])
    ranked = [h for _, h in chain.rerank_hits("q", HITS, top_n=2)]
    assert [h.id for h in ranked] == ["1", "3"]
    assert {h.scored_by for h in ranked} == {"scripted:b"}
    assert ranked[0].score_metadata()[SCORED_BY_KEY] == "scripted:b"
    assert chain.spec == "scripted:a | scripted:b"


def test_a_healthy_primary_is_named() -> None:
    chain = FallbackReranker([Scripted("a"), Scripted("b")])
    ranked = asyncio.run(chain.arerank_hits("q", HITS))
    assert {h.scored_by for _, h in ranked} == {"scripted:a"}


def test_all_failing_keeps_stage1_order_or_raises(caplog: pytest.LogCaptureFixture) -> None:
    down = RerankerTimeoutError("slow")
    chain = FallbackReranker([Scripted("a", down), Scripted("b", down)], failure_threshold=100)
    with caplog.at_level(logging.WARNING, logger="shortlist.rerank.fallback"):
        for _ in range(5):
            ranked = chain.rerank_hits("q", HITS, top_n=3)
    assert [h.id for _, h in ranked] == ["0", "1", "2"]
    assert all(h.scored_by == STAGE1 and h.relevance_score is None for _, h in ranked)
    assert [h.score for _, h in ranked] == [h.score for h in HITS[:3]]
    degraded = [r for r in caplog.records if "stage-1 order" in r.getMessage()]
    assert len(degraded) == 1  # once per burst, not per query
    strict = FallbackReranker([Scripted("a", down)], degraded="raise")
    with pytest.raises(RerankerTimeoutError):
        strict.rerank_hits("q", HITS)


def test_bad_input_is_not_a_failure() -> None:
    primary = Scripted("a", InvalidInputError("your input"))
    backup = Scripted("b")
    chain = FallbackReranker([primary, backup])
    with pytest.raises(InvalidInputError):
        chain.rerank_hits("q", HITS)
    assert backup.calls == 0
    with pytest.raises(InvalidInputError):
        chain.rerank_hits("", HITS)


def test_breaker_opens_then_half_opens_with_one_probe() -> None:
    clock = Clock()
    primary = Scripted("a", RerankerAPIError("down"))
    chain = FallbackReranker(
        [primary, Scripted("b")], failure_threshold=2, reset_seconds=10, clock=clock
    )
    assert chain.breaker_states() == [("scripted:a", "closed"), ("scripted:b", "closed")]
    for _ in range(5):
        chain.rerank_hits("q", HITS)
    assert primary.calls == 2  # skipped once open
    assert chain.breaker_states()[0] == ("scripted:a", "open")
    clock.now = 11
    primary.error = None  # recovered: the probe succeeds and closes the breaker
    ranked = chain.rerank_hits("q", HITS)
    assert primary.calls == 3 and ranked[0][1].scored_by == "scripted:a"
    assert chain.breaker_states()[0] == ("scripted:a", "closed")
    primary.error = RerankerAPIError("down again")
    for _ in range(4):
        chain.rerank_hits("q", HITS)
    assert primary.calls == 5
    clock.now = 22  # half-open probe fails: open again for reset_seconds
    chain.rerank_hits("q", HITS)
    chain.rerank_hits("q", HITS)
    assert primary.calls == 6


def test_specs_with_a_pipe_build_a_chain(
    fake_cohere: FakeCohere, onnx_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CO_API_KEY", fake_cohere.api_key)
    spec = f"cohere:rerank-v3.5?base_url={fake_cohere.url} |onnx:{onnx_model_path}"
    chain = load_reranker(spec, degraded="raise", failure_threshold=2)
    assert isinstance(chain, FallbackReranker) and chain.degraded == "raise"
    assert chain.spec == " | ".join(m.spec for m in chain.members)
    assert isinstance(load_reranker(chain.spec), FallbackReranker)
    with pytest.raises(InvalidInputError):
        load_reranker(f"onnx:{onnx_model_path} | ")
    with pytest.raises(InvalidInputError):
        load_reranker(f"onnx:{onnx_model_path} | onnx:{onnx_model_path}", batch_size=2)


def test_cohere_errors_fall_back_over_real_http(
    fake_cohere: FakeCohere, onnx_model_path: Path
) -> None:
    cohere = CohereReranker(
        api_key=fake_cohere.api_key, base_url=fake_cohere.url, timeout=0.3, max_retries=0
    )
    onnx = load_reranker(f"onnx:{onnx_model_path}?max_length=128")
    chain = FallbackReranker([cohere, onnx], failure_threshold=10)
    for reply in (Reply(503), Reply(429), Reply(delay=1.0), Reply(200, raw=b"{not json")):
        fake_cohere.script(reply)
        ranked = chain.rerank_hits("what is x", HITS)
        assert {h.scored_by for _, h in ranked} == {chain.members[1].spec}
    fake_cohere.script(Reply(400, {"message": "invalid request: bad"}))
    with pytest.raises(InvalidInputError):  # the API rejected the request: no fallback
        chain.rerank_hits("what is x", HITS)


def test_pipeline_builds_the_chain_from_fallback_and_degraded() -> None:
    from shortlist import Index, Pipeline
    from tests.unit.toy import HashEncoder

    index = Index.build(["x" * n for n in (3, 9, 1, 5)], HashEncoder(), ids=list("abcd"))
    down = RerankerAPIError("down", status_code=503)
    pipe = Pipeline(
        index, Scripted("a", down), fetch_k=4, top_n=2, fallback=Scripted("b"), fusion=None
    )
    assert isinstance(pipe.reranker, FallbackReranker)
    assert pipe.reranker.spec == "scripted:a | scripted:b"
    hits = pipe.search("q")
    assert [h.id for h in hits] == ["b", "d"] and {h.scored_by for h in hits} == {"scripted:b"}
    alone = Pipeline(index, Scripted("a", down), fetch_k=4, top_n=2, degraded="stage1", fusion=None)
    stage1 = index.search("q", 2, mode=alone.mode, alpha=alone.alpha)
    assert [h.id for h in alone.search("q")] == [h.id for h in stage1]
    assert {h.scored_by for h in alone.search("q")} == {STAGE1}
    strict = Pipeline(index, Scripted("a", down), top_n=2, fetch_k=4, degraded="raise")
    with pytest.raises(RerankerAPIError):
        strict.search("q")
    with pytest.raises(InvalidInputError, match="degraded must be"):
        Pipeline(index, Scripted("a"), degraded="ignore")
    with pytest.raises(InvalidInputError, match="pass the primary reranker"):
        Pipeline(index, fallback=Scripted("b"))
