"""Both adapters take the same arguments the same way, and fail the same way.

One core helper checks the rerank adapters' arguments, so a mistake raises the same
shortlist error from LangChain and LlamaIndex (never pydantic's ValidationError, never
silently ignored); the retrievers refuse to promise more results than a pipeline fetches.
Both hand out metadata copies as deep as each other, and a rerank-only adapter imports
neither the index nor FAISS.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from langchain_core.documents import Document as LCDocument
from llama_index.core.schema import NodeWithScore, TextNode

from shortlist import Document, Index, Pipeline
from shortlist.errors import InvalidInputError, UnknownBackendError
from shortlist.langchain import ShortlistRerank as LCRerank
from shortlist.langchain import ShortlistRetriever as LCRetriever
from shortlist.llama_index import ShortlistRerank as LIRerank
from shortlist.llama_index import ShortlistRetriever as LIRetriever
from shortlist.rerank import load_reranker
from shortlist.rerank.base import Reranker

from .li_fixtures import (  # noqa: F401  (fixtures)
    FETCH,
    QUERY,
    fixture_li_docs,
    fixture_li_index,
    fixture_li_reranker,
)

RERANKS = [LCRerank, LIRerank]


@pytest.mark.parametrize("cls", RERANKS, ids=["langchain", "llama_index"])
@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"topn": 3}, InvalidInputError, "'topn' \\(did you mean 'top_n'\\?\\)"),
        ({"top_n": 0}, InvalidInputError, "top_n must be a positive integer"),
        ({"top_n": -1}, InvalidInputError, "top_n must be a positive integer"),
        ({"score_threshold": "high"}, InvalidInputError, "score_threshold must be a finite"),
        ({"score_threshold": float("nan")}, InvalidInputError, "score_threshold must be a"),
        ({"fusion": "median"}, InvalidInputError, "Unknown fusion"),
        ({"fusion": "weighted:w=3"}, InvalidInputError, "within 0..1"),
        ({"rerank_budget_ms": 0}, InvalidInputError, "rerank_budget_ms"),
        ({"rerank_budget_ms": float("inf")}, InvalidInputError, "rerank_budget_ms"),
        ({"top_n": 2.5}, InvalidInputError, "top_n must be a positive integer"),
    ],
)
def test_the_same_mistake_raises_the_same_error(
    cls: type, options: dict[str, Any], error: type, match: str, li_reranker: Reranker
) -> None:
    with pytest.raises(error, match=match):
        cls(reranker=li_reranker, **options)
    with pytest.raises(error, match=match):
        cls.model_validate({"reranker": li_reranker, **options})


@pytest.mark.parametrize("cls", RERANKS, ids=["langchain", "llama_index"])
def test_a_bad_spec_is_unknown_backend_in_both(cls: type) -> None:
    for build in (
        lambda: cls(reranker="no-such-backend:model"),
        lambda: cls.model_validate({"reranker": "onxx:model"}),
    ):
        with pytest.raises(UnknownBackendError, match="Valid backends"):
            build()
    with pytest.raises(InvalidInputError, match="reranker must be"):
        cls(reranker=42)


def test_llama_index_from_dict_reloads_the_spec_and_rejects_bad_ones(
    li_reranker: Reranker,
) -> None:
    data = LIRerank(reranker=li_reranker, top_n=3, fusion="rrf").to_dict()
    assert data["reranker"] == li_reranker.spec
    again = LIRerank.from_dict(data)
    assert again.reranker.spec == li_reranker.spec and again.fusion == "rrf:k=60"
    with pytest.raises(UnknownBackendError):
        LIRerank.from_dict({**data, "reranker": "onxx:model"})
    with pytest.raises(InvalidInputError, match="did you mean 'top_n'"):
        LIRerank.from_dict({**data, "topn": 2})


def test_both_normalise_fusion(li_reranker: Reranker) -> None:
    assert LCRerank(reranker=li_reranker, fusion="RRF").fusion == "rrf:k=60"
    assert LIRerank(reranker=li_reranker, fusion="RRF").fusion == "rrf:k=60"


# ---------------------------------------------------------------------- retrievers
def test_k_beyond_the_pipelines_fetch_k_is_an_error(li_index: Index, li_reranker: Reranker) -> None:
    pipe = Pipeline(li_index, li_reranker, fetch_k=10, top_n=5)
    with pytest.raises(InvalidInputError, match="k=20 exceeds the pipeline's fetch_k=10"):
        LCRetriever(pipeline=pipe, k=20)  # used to return 10 documents silently
    with pytest.raises(InvalidInputError, match=r"similarity_top_k=20 exceeds .* fetch_k=10"):
        LIRetriever(pipeline=pipe, similarity_top_k=20)
    retriever = LCRetriever(pipeline=pipe)
    with pytest.raises(InvalidInputError, match="k=11 exceeds"):
        retriever.invoke(QUERY, k=11)  # per call, too
    with pytest.raises(InvalidInputError, match="k must be a positive integer"):
        retriever.invoke(QUERY, k=0)
    assert len(LCRetriever(index=li_index, k=20).invoke(QUERY)) == 20  # an index has no cap


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"k": 0}, "k must be a positive integer"),
        ({"kk": 3}, "did you mean 'k'"),
        ({"mode": "semantic"}, "mode must be one of"),
        ({"alpha": 2}, "within 0..1"),
        ({"alpha": float("nan")}, "alpha"),
    ],
)
def test_langchain_retriever_arguments_are_typed_errors(
    li_index: Index, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        LCRetriever(index=li_index, **options)


# ---------------------------------------------------------------------- metadata
@pytest.fixture(scope="module")
def nested_index(li_index: Index) -> Index:
    index = Index(li_index.encoder)
    index.add([Document("n1", "Boundary layer flow over a flat plate.", {"src": {"p": [1]}})])
    return index


def test_returned_metadata_is_a_deep_copy_in_both(nested_index: Index) -> None:
    lc = LCRetriever(index=nested_index, k=1).invoke("boundary layer")[0]
    li = LIRetriever(index=nested_index, similarity_top_k=1).retrieve("boundary layer")[0]
    lc.metadata["src"]["p"].append(2)
    li.node.metadata["src"]["p"].append(3)
    assert nested_index.get(["n1"])[0].metadata["src"] == {"p": [1]}
    assert LCRetriever(index=nested_index, k=1).invoke("boundary layer")[0].metadata["src"] == {
        "p": [1]
    }


@pytest.mark.parametrize("cls", RERANKS, ids=["langchain", "llama_index"])
def test_reranked_metadata_is_a_deep_copy_in_both(cls: type, li_reranker: Reranker) -> None:
    meta = {"src": {"p": [1]}}
    if cls is LCRerank:
        out = cls(reranker=li_reranker).compress_documents(
            [LCDocument(page_content="Boundary layer flow.", metadata=meta)], "boundary layer"
        )
        out[0].metadata["src"]["p"].append(2)
    else:
        node = NodeWithScore(node=TextNode(text="Boundary layer flow.", metadata=meta), score=1.0)
        out = cls(reranker=li_reranker).postprocess_nodes([node], query_str="boundary layer")
        out[0].node.metadata["src"]["p"].append(2)
    assert meta == {"src": {"p": [1]}}


# ---------------------------------------------------------------------- imports
@pytest.mark.parametrize("module", ["shortlist.langchain.rerank", "shortlist.llama_index.rerank"])
def test_a_rerank_only_adapter_does_not_import_the_index(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in ('shortlist.index', 'shortlist.pipeline', 'faiss') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_package_names_still_resolve() -> None:
    import shortlist.langchain as lc
    import shortlist.llama_index as li

    assert lc.ShortlistRerank is LCRerank and li.ShortlistRerank is LIRerank
    assert set(lc.__all__) <= set(dir(lc)) and set(li.__all__) <= set(dir(li))
    assert load_reranker  # the spec loader the adapters share via as_reranker
