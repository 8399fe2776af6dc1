"""Both adapters over the same core give the same ids, order and scores for the same input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document as LCDocument
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from shortlist import Index, Pipeline, defaults
from shortlist.documents import SCORED_BY_KEY, STAGE1
from shortlist.errors import RerankerAPIError
from shortlist.langchain import ShortlistRerank as LCRerank
from shortlist.langchain import ShortlistRetriever as LCRetriever
from shortlist.llama_index import ShortlistRerank as LIRerank
from shortlist.llama_index import ShortlistRetriever as LIRetriever
from shortlist.rerank import load_reranker
from shortlist.rerank.base import Reranker
from shortlist.rerank.fallback import FallbackReranker

QUERIES = [
    "what similarity laws must be obeyed when constructing aeroelastic models",
    "heat transfer to a blunt body in hypersonic flow",
]


@pytest.fixture(scope="module")
def reranker(onnx_model_path: Path) -> Reranker:
    return load_reranker(f"onnx:{onnx_model_path}")


def _lc(docs: list[LCDocument]) -> list[tuple[str | None, float]]:
    return [(d.id, round(d.metadata["retrieval_score"], 6)) for d in docs]


def _li(nodes: list[NodeWithScore]) -> list[tuple[str, float]]:
    return [(n.node.node_id, round(float(n.score or 0.0), 6)) for n in nodes]


@pytest.mark.parametrize("query", QUERIES)
def test_retrievers_agree(index: Index, query: str) -> None:
    lc = LCRetriever(index=index, k=15).invoke(query)
    li = LIRetriever(index=index, similarity_top_k=15).retrieve(query)
    assert len(lc) == 15
    assert _lc(lc) == _li(li)
    assert [d.metadata for d in lc] == [n.node.metadata for n in li]


async def test_async_retrievers_agree(index: Index) -> None:
    lc = await LCRetriever(index=index, k=10).ainvoke(QUERIES[0])
    li = await LIRetriever(index=index, similarity_top_k=10).aretrieve(QUERIES[0])
    assert _lc(lc) == _li(li)


@pytest.mark.parametrize("fusion", [None, "rrf"])
def test_rerankers_agree_on_the_same_candidates(
    index: Index, reranker: Reranker, fusion: str | None
) -> None:
    query = QUERIES[1]
    hits = index.search(
        query, k=12, mode="hybrid", alpha=defaults.HYBRID_ALPHA
    )  # what the Pipeline fetches
    lc_in = [
        LCDocument(id=h.id, page_content=h.text, metadata={"src": "x", "retrieval_score": h.score})
        for h in hits
    ]
    li_in = [
        NodeWithScore(node=TextNode(id_=h.id, text=h.text, metadata={"src": "x"}), score=h.score)
        for h in hits
    ]
    lc_out = LCRerank(reranker=reranker, top_n=5, fusion=fusion).compress_documents(lc_in, query)
    li_out = LIRerank(reranker=reranker, top_n=5, fusion=fusion).postprocess_nodes(
        li_in, QueryBundle(query)
    )
    assert [d.id for d in lc_out] == [n.node.node_id for n in li_out]
    for d, n in zip(lc_out, li_out, strict=True):
        assert d.metadata["relevance_score"] == pytest.approx(
            n.node.metadata["relevance_score"], abs=1e-9
        )
        assert d.metadata["retrieval_score"] == pytest.approx(
            n.node.metadata["retrieval_score"], abs=1e-9
        )
        if fusion is None:
            assert "fused_score" not in d.metadata and "fused_score" not in n.node.metadata
        else:  # both report the score they ranked by, under the same key
            assert d.metadata["fused_score"] == pytest.approx(n.node.metadata["fused_score"])
            assert n.score == pytest.approx(n.node.metadata["fused_score"])
    # and both equal the framework-free pipeline on the same candidates
    core = Pipeline(index, reranker, fetch_k=12, top_n=5, fusion=fusion).search(query)
    assert [h.id for h in core] == [d.id for d in lc_out]
    assert [h.score for h in core] == pytest.approx([n.score for n in li_out])


def test_pipeline_retrievers_agree(index: Index, reranker: Reranker) -> None:
    pipe = Pipeline(index, reranker, fetch_k=15, top_n=4, fusion=None)
    lc = LCRetriever(pipeline=pipe).invoke(QUERIES[0])
    li = LIRetriever(pipeline=pipe).retrieve(QUERIES[0])
    assert [d.id for d in lc] == [n.node.node_id for n in li]
    assert [round(d.metadata["relevance_score"], 6) for d in lc] == [
        round(float(n.score or 0), 6) for n in li
    ]


@pytest.mark.parametrize("fusion", [None, "rrf"])
def test_pipeline_retrievers_report_the_same_scores(
    index: Index, reranker: Reranker, fusion: str | None
) -> None:
    """Over a fused pipeline, LangChain reports ``fused_score`` as LlamaIndex does."""
    pipe = Pipeline(index, reranker, fetch_k=12, top_n=4, fusion=fusion)
    lc = LCRetriever(pipeline=pipe).invoke(QUERIES[1])
    li = LIRetriever(pipeline=pipe).retrieve(QUERIES[1])
    assert [d.id for d in lc] == [n.node.node_id for n in li]
    assert [d.metadata for d in lc] == [n.node.metadata for n in li]
    hits = pipe.search(QUERIES[1])
    if fusion is None:
        assert all("fused_score" not in d.metadata for d in lc)
    else:
        assert [d.metadata["fused_score"] for d in lc] == pytest.approx([h.score for h in hits])
        assert [n.score for n in li] == pytest.approx([h.score for h in hits])


class _Down(Reranker):
    """A primary that is always out of service."""

    @property
    def spec(self) -> str:
        return "down"

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        raise RerankerAPIError("service unavailable", status_code=503)


@pytest.mark.parametrize("degraded_to_stage1", [False, True])
async def test_both_adapters_say_which_backend_scored(
    index: Index, reranker: Reranker, degraded_to_stage1: bool
) -> None:
    """Through a fallback chain, sync and async, both adapters carry ``scored_by``."""
    members = [_Down(), _Down()] if degraded_to_stage1 else [_Down(), reranker]
    chain = FallbackReranker(members, failure_threshold=100)
    expected = STAGE1 if degraded_to_stage1 else reranker.spec
    query = QUERIES[1]
    hits = index.search(query, k=8, mode="hybrid", alpha=defaults.HYBRID_ALPHA)
    lc_in = [LCDocument(id=h.id, page_content=h.text, metadata={}) for h in hits]
    li_in = [NodeWithScore(node=TextNode(id_=h.id, text=h.text), score=h.score) for h in hits]
    lc_rerank = LCRerank(reranker=chain, top_n=3, fusion=None)
    li_rerank = LIRerank(reranker=chain, top_n=3, fusion=None)
    outs = [
        [d.metadata for d in lc_rerank.compress_documents(lc_in, query)],
        [d.metadata for d in await lc_rerank.acompress_documents(lc_in, query)],
        [n.node.metadata for n in li_rerank.postprocess_nodes(li_in, QueryBundle(query))],
        [n.node.metadata for n in await li_rerank.apostprocess_nodes(li_in, QueryBundle(query))],
    ]
    core = await Pipeline(index, chain, fetch_k=8, top_n=3, fusion=None).asearch(query)
    assert [h.scored_by for h in core] == [expected] * 3
    for metadata in outs:
        assert [m[SCORED_BY_KEY] for m in metadata] == [expected] * 3


def test_the_default_funnel_fuses_alike_everywhere(
    index: Index,
    reranker: Reranker,
) -> None:
    """With no fusion argument, Pipeline and both compressors apply the funnel's rule
    ("auto": shortlist.defaults.FUSION for a local cross-encoder over candidates carrying
    shortlist's stage-1 scores) to the same candidates and agree on order and scores."""
    query = QUERIES[0]
    pipe = Pipeline(index, reranker, fetch_k=12, top_n=5)
    core = pipe.run(query)
    assert all(h.fused_score == h.score for h in core.hits)
    lc = LCRerank(reranker=reranker, top_n=5).compress_documents(
        [LCDocument(id=h.id, page_content=h.text, metadata={"retrieval_score": h.score})
         for h in core.candidates],
        query,
    )  # fmt: skip
    li = LIRerank(reranker=reranker, top_n=5).postprocess_nodes(
        [NodeWithScore(node=TextNode(id_=h.id, text=h.text,
                                     metadata={"retrieval_score": h.score}), score=h.score)
         for h in core.candidates],
        QueryBundle(query),
    )  # fmt: skip
    expected = [(h.id, round(h.score, 6)) for h in core.hits]
    assert [(d.id, round(d.metadata["fused_score"], 6)) for d in lc] == expected
    assert [(n.node.node_id, round(float(n.score or 0), 6)) for n in li] == expected
