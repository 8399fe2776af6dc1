"""LangChain and LlamaIndex objects that call the server, with the real int8 ONNX model.

``langchain_cohere`` and LlamaIndex's ``CohereRerank`` are not installed here; LangChain's
own ``CohereRerank`` (langchain-classic, the cohere SDK's v1 client) is, so it calls
``/v1/rerank``; shortlist's ``ShortlistRerank`` adapters call ``/v2/rerank`` through
shortlist's ``cohere:`` backend. Each must give the in-process model's order and scores.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cohere
import pytest
from langchain_classic.retrievers.document_compressors import CohereRerank
from langchain_core.documents import Document as LCDocument
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from shortlist.langchain import ShortlistRerank as LCShortlistRerank
from shortlist.llama_index import ShortlistRerank as LIShortlistRerank
from shortlist.rerank.cohere import CohereReranker
from shortlist.serve import BackgroundServer
from tests.rerank.conftest import QUERY, TEXTS

from .helpers import API_KEY


@pytest.fixture(scope="module")
def via_server(onnx_server: BackgroundServer) -> Iterator[CohereReranker]:
    reranker = CohereReranker("rerank-v3.5", api_key=API_KEY, base_url=onnx_server.url)
    yield reranker
    reranker.close()


def expected(onnx: Any, top_n: int) -> list[tuple[str, float]]:
    return [(TEXTS[r.index], r.score) for r in onnx.rerank(QUERY, TEXTS, top_n=top_n)]


def check(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [t for t, _ in got] == [t for t, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-6)


@pytest.mark.filterwarnings("ignore::langchain_core._api.LangChainDeprecationWarning")
def test_langchain_cohere_rerank_uses_the_server(onnx: Any, onnx_server: BackgroundServer) -> None:
    client = cohere.Client(api_key=API_KEY, base_url=onnx_server.url)
    compressor = CohereRerank(client=client, top_n=3, model="rerank-english-v3.0")
    docs = [LCDocument(page_content=t, metadata={"n": i}) for i, t in enumerate(TEXTS)]
    out = compressor.compress_documents(docs, QUERY)
    check([(d.page_content, d.metadata["relevance_score"]) for d in out], expected(onnx, 3))
    assert all("relevance_score" not in d.metadata for d in docs)


async def test_shortlist_langchain_rerank_with_cohere_at_the_server(
    onnx: Any, via_server: CohereReranker
) -> None:
    compressor = LCShortlistRerank(reranker=via_server, top_n=3)
    docs = [LCDocument(page_content=t) for t in TEXTS]
    out = await compressor.acompress_documents(docs, QUERY)
    check([(d.page_content, d.metadata["relevance_score"]) for d in out], expected(onnx, 3))


def test_shortlist_llama_index_rerank_with_cohere_at_the_server(
    onnx: Any, via_server: CohereReranker
) -> None:
    post = LIShortlistRerank(reranker=via_server, top_n=3)
    nodes = [
        NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=0.0) for i, t in enumerate(TEXTS)
    ]
    out = post.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    check([(n.node.get_content(), float(n.score or 0.0)) for n in out], expected(onnx, 3))
