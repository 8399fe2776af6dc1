"""ShortlistRetriever end to end: real FAISS + MiniLM, MetadataFilters, native async."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import MetadataMode, QueryBundle, TextNode
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from shortlist import RELEVANCE_SCORE_KEY, RETRIEVAL_SCORE_KEY, Index, Pipeline, defaults
from shortlist.errors import InvalidInputError
from shortlist.llama_index import ShortlistRetriever
from shortlist.rerank.base import Reranker

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


def _meta_filter(key: str, value: Any, op: FilterOperator = FilterOperator.EQ) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=op)


def test_retriever_nodes_are_the_index_hits(li_index: Index) -> None:
    nodes = ShortlistRetriever(index=li_index, similarity_top_k=7).retrieve(QUERY)
    hits = li_index.search(
        QUERY, 7, mode="hybrid", alpha=defaults.HYBRID_ALPHA
    )  # the funnel default
    assert [n.node.node_id for n in nodes] == [h.id for h in hits]
    assert [n.score for n in nodes] == pytest.approx([h.score for h in hits])
    assert all(a.score >= b.score for a, b in itertools.pairwise(nodes))  # type: ignore[operator]
    for node, hit in zip(nodes, hits, strict=True):
        assert isinstance(node.node, TextNode)
        assert node.node.get_content(metadata_mode=MetadataMode.NONE) == hit.text
        meta = node.node.metadata
        assert {k: meta[k] for k in hit.document.metadata} == dict(hit.document.metadata)
        assert meta[RETRIEVAL_SCORE_KEY] == pytest.approx(hit.score)
        assert meta["retrieval_rank"] == hit.rank
        for key in (RETRIEVAL_SCORE_KEY, "retrieval_rank"):
            assert key in node.node.excluded_llm_metadata_keys
            assert key in node.node.excluded_embed_metadata_keys
        assert RETRIEVAL_SCORE_KEY not in node.node.get_content(metadata_mode=MetadataMode.LLM)
        assert "parity: " in node.node.get_content(metadata_mode=MetadataMode.LLM)


def test_retriever_defaults_and_validation(li_index: Index, li_reranker: Reranker) -> None:
    assert ShortlistRetriever(index=li_index).similarity_top_k == 10
    pipe = Pipeline(li_index, li_reranker, fetch_k=FETCH, top_n=3, fusion=None)
    assert ShortlistRetriever(pipeline=pipe).similarity_top_k == 3
    with pytest.raises(InvalidInputError, match="exactly one"):
        ShortlistRetriever()
    with pytest.raises(InvalidInputError, match="exactly one"):
        ShortlistRetriever(index=li_index, pipeline=pipe)
    with pytest.raises(InvalidInputError, match="similarity_top_k"):
        ShortlistRetriever(index=li_index, similarity_top_k=0)
    with pytest.raises(InvalidInputError, match="Index"):
        ShortlistRetriever(index="not an index")  # type: ignore[arg-type]


def test_retriever_over_a_pipeline_returns_reranked_nodes(
    li_index: Index, li_reranker: Reranker
) -> None:
    pipe = Pipeline(li_index, li_reranker, fetch_k=FETCH, top_n=4, fusion=None)
    nodes = ShortlistRetriever(pipeline=pipe).retrieve(QUERY)
    hits = pipe.search(QUERY)
    assert id_scores(nodes) == [(h.id, round(h.score, 5)) for h in hits]
    assert len(nodes) == 4
    for node in nodes:
        meta = node.node.metadata
        assert node.score == pytest.approx(meta[RELEVANCE_SCORE_KEY])
        assert RETRIEVAL_SCORE_KEY in meta
        assert set(node.node.excluded_llm_metadata_keys) >= SCORE_KEYS


@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        (MetadataFilters(filters=[_meta_filter("parity", "odd")]), lambda m: m["parity"] == "odd"),
        (
            MetadataFilters(filters=[_meta_filter("group", [0, 2], FilterOperator.IN)]),
            lambda m: m["group"] in (0, 2),
        ),
        (
            MetadataFilters(
                filters=[_meta_filter("n", 10, FilterOperator.LTE), _meta_filter("group", 1)],
                condition=FilterCondition.OR,
            ),
            lambda m: m["n"] <= 10 or m["group"] == 1,
        ),
        (
            MetadataFilters(
                filters=[
                    _meta_filter("parity", "even"),
                    MetadataFilters(
                        filters=[
                            _meta_filter("n", 150, FilterOperator.GT),
                            _meta_filter("group", 0, FilterOperator.NE),
                        ],
                        condition=FilterCondition.OR,
                    ),
                ]
            ),
            lambda m: m["parity"] == "even" and (m["n"] > 150 or m["group"] != 0),
        ),
    ],
    ids=["eq", "in", "or", "nested"],
)
def test_retriever_metadata_filters(
    li_index: Index, filters: MetadataFilters, allowed: Callable[[Any], bool]
) -> None:
    nodes = ShortlistRetriever(index=li_index, similarity_top_k=15, filters=filters).retrieve(QUERY)
    assert len(nodes) == 15
    assert all(allowed(n.node.metadata) for n in nodes)
    # pre-filtering: exactly the best 15 of the allowed documents, none lost
    expected = li_index.search(
        QUERY, 15, filter=lambda m: bool(allowed(m)), mode="hybrid", alpha=defaults.HYBRID_ALPHA
    )
    assert [n.node.node_id for n in nodes] == [h.id for h in expected]


def test_retriever_unsupported_filter_fails_at_construction(li_index: Index) -> None:
    bad = MetadataFilters(filters=[_meta_filter("title", "wing", FilterOperator.TEXT_MATCH)])
    with pytest.raises(InvalidInputError, match="TEXT_MATCH"):
        ShortlistRetriever(index=li_index, filters=bad)


async def test_retriever_async_equals_sync(li_index: Index, li_reranker: Reranker) -> None:
    flt = MetadataFilters(filters=[_meta_filter("parity", "even")])
    retriever = ShortlistRetriever(index=li_index, similarity_top_k=8, filters=flt)
    assert id_scores(await retriever.aretrieve(QUERY)) == id_scores(retriever.retrieve(QUERY))
    pipe = ShortlistRetriever(
        pipeline=Pipeline(li_index, li_reranker, fetch_k=FETCH, top_n=5, fusion=None)
    )
    assert id_scores(await pipe.aretrieve(QUERY)) == id_scores(pipe.retrieve(QUERY))


async def test_aretrieve_does_not_block_the_event_loop(li_index: Index) -> None:
    retriever = ShortlistRetriever(index=li_index, similarity_top_k=10)
    bundle = QueryBundle(QUERY)
    # control: LlamaIndex's default _aretrieve runs the sync path inside the coroutine
    assert await ticks_during(lambda: BaseRetriever._aretrieve(retriever, bundle)) == 0
    assert await ticks_during(lambda: retriever.aretrieve(QUERY)) >= 3
