"""ShortlistRerank and the query engine end to end: real FAISS + MiniLM, real ONNX reranker.

No mocks apart from LlamaIndex's own MockLLM (which echoes the prompt, so the tests can
also check what the LLM would see).
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import llama_index.core.instrumentation as instrument
import numpy as np
import pytest
from llama_index.core.bridge.pydantic import Field
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode

from shortlist import RELEVANCE_SCORE_KEY, RETRIEVAL_SCORE_KEY, Index
from shortlist.errors import InvalidInputError, MissingDependencyError
from shortlist.llama_index import ShortlistRerank, ShortlistRetriever
from shortlist.rerank.base import Reranker
from shortlist.rerank.fusion import Fusion

from .li_fixtures import (  # noqa: F401  (fixtures)
    FETCH,
    QUERY,
    fixture_li_docs,
    fixture_li_index,
    fixture_li_reranker,
    id_scores,
    ticks_during,
)

SCORE_KEYS = {RETRIEVAL_SCORE_KEY, RELEVANCE_SCORE_KEY, "retrieval_rank"}


@pytest.fixture(scope="module")
def candidates(li_index: Index) -> list[NodeWithScore]:
    """FETCH retrieved nodes: the rerank input. Do not mutate."""
    nodes = ShortlistRetriever(index=li_index, similarity_top_k=FETCH).retrieve(QUERY)
    assert len(nodes) == FETCH
    return nodes


@pytest.fixture(scope="module")
def relevance(candidates: list[NodeWithScore], li_reranker: Reranker) -> list[float]:
    """The reranker's own scores for the candidates' texts: the ground truth."""
    texts = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in candidates]
    return [float(x) for x in li_reranker.score(QUERY, texts)]


def _expected(
    candidates: list[NodeWithScore], scores: list[float], top_n: int
) -> list[tuple[str, float]]:
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])[:top_n]  # stable
    return [(candidates[i].node.node_id, round(scores[i], 5)) for i in order]


@pytest.fixture
def events() -> Iterator[list[BaseEvent]]:
    """Events seen by a handler on the root dispatcher during one test."""

    class Collect(BaseEventHandler):
        seen: list[BaseEvent] = Field(default_factory=list)

        def handle(self, event: BaseEvent, **kwargs: Any) -> None:
            self.seen.append(event)

    handler = Collect()
    root = instrument.get_dispatcher()
    root.add_event_handler(handler)
    try:
        yield handler.seen
    finally:
        root.event_handlers.remove(handler)


def _reranks(seen: list[BaseEvent]) -> list[BaseEvent]:
    return [e for e in seen if isinstance(e, ReRankStartEvent | ReRankEndEvent)]


# ------------------------------------------------------------------ postprocessor
def test_rerank_scores_ids_and_metadata(
    candidates: list[NodeWithScore], li_reranker: Reranker, relevance: list[float]
) -> None:
    out = ShortlistRerank(reranker=li_reranker, top_n=5, fusion=None).postprocess_nodes(
        candidates, query_str=QUERY
    )
    assert id_scores(out) == _expected(candidates, relevance, 5)
    by_id = {n.node.node_id: n for n in candidates}
    for node in out:
        original = by_id[node.node.node_id]
        meta = node.node.metadata
        assert meta[RELEVANCE_SCORE_KEY] == pytest.approx(node.score)
        assert meta[RETRIEVAL_SCORE_KEY] == pytest.approx(original.score)
        assert {k: meta[k] for k in original.node.metadata} == original.node.metadata
        assert set(node.node.excluded_llm_metadata_keys) >= SCORE_KEYS
        assert set(node.node.excluded_embed_metadata_keys) >= SCORE_KEYS
        assert node.node.get_content(metadata_mode=MetadataMode.NONE) == (
            original.node.get_content(metadata_mode=MetadataMode.NONE)
        )


def test_rerank_never_mutates_its_input(
    candidates: list[NodeWithScore], li_reranker: Reranker
) -> None:
    before = copy.deepcopy(candidates)
    snapshot = [(n.score, n.node.model_dump()) for n in candidates]
    out = ShortlistRerank(reranker=li_reranker, top_n=5, fusion="rrf").postprocess_nodes(
        candidates, query_str=QUERY
    )
    assert [(n.score, n.node.model_dump()) for n in candidates] == snapshot
    assert id_scores(candidates) == id_scores(before)
    inputs = {id(n) for n in candidates} | {id(n.node) for n in candidates}
    assert not inputs & ({id(n) for n in out} | {id(n.node) for n in out})
    inner = {id(n.node.metadata) for n in candidates}
    assert not inner & {id(n.node.metadata) for n in out}


def test_rerank_scores_the_text_only(li_reranker: Reranker) -> None:
    """Same text, different metadata -> same score (LlamaIndex's peers score metadata too)."""
    text = "aeroelastic models of heated high speed aircraft must obey similarity laws ."
    nodes = [
        NodeWithScore(node=TextNode(id_="plain", text=text), score=0.5),
        NodeWithScore(
            node=TextNode(
                id_="tagged", text=text, metadata={"source": "cooking-recipes.pdf", "page": 3}
            ),
            score=0.4,
        ),
    ]
    out = ShortlistRerank(reranker=li_reranker, top_n=None, fusion=None).postprocess_nodes(
        nodes, query_str=QUERY
    )
    assert out[0].score == pytest.approx(out[1].score)
    assert out[0].score == pytest.approx(float(li_reranker.score(QUERY, [text])[0]))


def test_rerank_threshold_fusion_and_spec_string(
    candidates: list[NodeWithScore],
    li_reranker: Reranker,
    relevance: list[float],
    onnx_model_path: Any,
) -> None:
    cut = sorted(relevance)[FETCH // 2]
    kept = ShortlistRerank(reranker=li_reranker, top_n=None, score_threshold=cut, fusion=None)
    above = [s if s >= cut else -1.0 for s in relevance]  # below the cut sorts last
    expected = _expected(candidates, above, sum(s >= cut for s in relevance))
    assert id_scores(kept.postprocess_nodes(candidates, query_str=QUERY)) == expected

    fused = ShortlistRerank(reranker=li_reranker, top_n=3, fusion="rrf").postprocess_nodes(
        candidates, query_str=QUERY
    )
    retrieval = np.array([n.score for n in candidates])
    rrf = Fusion.parse("rrf").fuse(retrieval, np.array(relevance))  # type: ignore[union-attr]
    assert id_scores(fused) == _expected(candidates, rrf.tolist(), 3)
    for node in fused:
        assert node.node.metadata["fused_score"] == pytest.approx(node.score)
        assert node.node.metadata[RELEVANCE_SCORE_KEY] == pytest.approx(
            relevance[[n.node.node_id for n in candidates].index(node.node.node_id)]
        )

    from_spec = ShortlistRerank(reranker=f"onnx:{onnx_model_path}", top_n=3, fusion=None)
    assert isinstance(from_spec.reranker, Reranker)
    few = candidates[:4]  # the spec loads the model at full length: keep this small
    few_scores = from_spec.reranker.score(
        QUERY, [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in few]
    )
    assert id_scores(from_spec.postprocess_nodes(few, query_str=QUERY)) == _expected(
        few, few_scores.tolist(), 3
    )
    assert ShortlistRerank(reranker=li_reranker, fusion=None).top_n == 2  # LlamaIndex's convention
    with pytest.raises(ValueError, match="fusion"):
        ShortlistRerank(reranker=li_reranker, fusion="borda")


async def test_apostprocess_equals_sync_and_does_not_block_the_loop(
    candidates: list[NodeWithScore], li_reranker: Reranker, relevance: list[float]
) -> None:
    rerank = ShortlistRerank(reranker=li_reranker, top_n=5, fusion=None)
    results: list[list[NodeWithScore]] = []

    async def work() -> None:
        results.append(await rerank.apostprocess_nodes(candidates, query_str=QUERY))

    assert await ticks_during(work, repeat=1) >= 3
    assert id_scores(results[0]) == id_scores(rerank.postprocess_nodes(candidates, query_str=QUERY))
    assert id_scores(results[0]) == _expected(candidates, relevance, 5)


def test_rerank_events_fire_after_validation(
    candidates: list[NodeWithScore], li_reranker: Reranker, events: list[BaseEvent]
) -> None:
    rerank = ShortlistRerank(reranker=li_reranker, top_n=4, fusion=None)
    out = rerank.postprocess_nodes(candidates[:8], query_str=QUERY)
    start, end = _reranks(events)
    assert isinstance(start, ReRankStartEvent) and isinstance(end, ReRankEndEvent)
    assert start.top_n == 4 and len(start.nodes) == 8 and start.model_name
    assert id_scores(end.nodes) == id_scores(out)

    events.clear()
    assert rerank.postprocess_nodes([], query_str=QUERY) == []
    assert [type(e) for e in _reranks(events)] == [ReRankStartEvent, ReRankEndEvent]

    events.clear()
    with pytest.raises(InvalidInputError, match="query"):
        rerank.postprocess_nodes(candidates)  # no query bundle
    with pytest.raises(InvalidInputError, match="NodeWithScore"):
        rerank.postprocess_nodes([candidates[0].node], query_str=QUERY)  # type: ignore[list-item]
    assert _reranks(events) == []


async def test_rerank_events_fire_on_the_async_path(
    candidates: list[NodeWithScore], li_reranker: Reranker, events: list[BaseEvent]
) -> None:
    rerank = ShortlistRerank(reranker=li_reranker, top_n=3, fusion=None)
    await rerank.apostprocess_nodes(candidates[:6], query_str=QUERY)
    await rerank.apostprocess_nodes([], query_str=QUERY)
    assert [type(e) for e in _reranks(events)] == [ReRankStartEvent, ReRankEndEvent] * 2


# ------------------------------------------------------------------ query engine
def _engine(index: Index, reranker: Reranker) -> RetrieverQueryEngine:
    return RetrieverQueryEngine.from_args(
        ShortlistRetriever(index=index, similarity_top_k=FETCH),
        node_postprocessors=[ShortlistRerank(reranker=reranker, top_n=3, fusion=None)],
        llm=MockLLM(),
    )


async def test_query_engine_query_and_aquery(li_index: Index, li_reranker: Reranker) -> None:
    engine = _engine(li_index, li_reranker)
    response = engine.query(QUERY)
    sources = response.source_nodes
    assert len(sources) == 3
    assert all(n.score == pytest.approx(n.node.metadata[RELEVANCE_SCORE_KEY]) for n in sources)
    assert all(RETRIEVAL_SCORE_KEY in n.node.metadata for n in sources)
    assert [n.score for n in sources] == sorted((n.score for n in sources), reverse=True)
    prompt = str(response)  # MockLLM echoes its prompt: score keys must not reach the LLM
    assert sources[0].node.get_content(metadata_mode=MetadataMode.NONE)[:40] in prompt
    assert RELEVANCE_SCORE_KEY not in prompt and RETRIEVAL_SCORE_KEY not in prompt
    aresponse = await engine.aquery(QUERY)
    assert id_scores(aresponse.source_nodes) == id_scores(sources)


# ------------------------------------------------------------------ packaging
def test_missing_llama_index_is_a_helpful_error() -> None:
    code = (
        "import sys; sys.modules['llama_index'] = None\n"
        "from shortlist.errors import MissingDependencyError\n"
        "try:\n    import shortlist.llama_index\n"
        "except MissingDependencyError as e:\n    print('OK', e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.startswith("OK"), result.stderr
    assert "pip install llama-index-core" in result.stdout
    assert issubclass(MissingDependencyError, ImportError)


def test_serialises_without_the_model(li_reranker: Reranker) -> None:
    rerank = ShortlistRerank(reranker=li_reranker, top_n=3, fusion="rrf")
    data = rerank.to_dict()
    assert data["top_n"] == 3 and data["fusion"] == "rrf:k=60"
    assert data["reranker"].startswith("onnx:") and data["class_name"] == "ShortlistRerank"
    assert "fusion=" not in data["reranker"]  # a spec load_reranker can load again
