"""Behaviour of the LangChain adapters beyond the standard suites.

Everything is real: FAISS, all-MiniLM-L6-v2 over 200 cranfield docs, the int8 ONNX
cross-encoder; the only fake is the chat model at the end of the LCEL chain.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import subprocess
import sys
from typing import Any

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document as LCDocument
from langchain_core.language_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from shortlist import (
    RELEVANCE_SCORE_KEY,
    RETRIEVAL_RANK_KEY,
    RETRIEVAL_SCORE_KEY,
    Index,
    InvalidInputError,
    Pipeline,
    UnknownBackendError,
    defaults,
)
from shortlist.langchain import FUSED_SCORE_KEY, ShortlistRerank, ShortlistRetriever
from shortlist.rerank.base import Reranker

from .lc_fixtures import QUERY, lc_index, lc_reranker  # noqa: F401

FETCH = 10  # candidates per rerank: enough to reorder, cheap on a 2-core CPU


class Recorder(BaseCallbackHandler):
    """Records which callback events fired, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_retriever_start(self, serialized: Any, query: str, **kw: Any) -> None:
        self.events.append(("retriever_start", kw.get("name")))

    def on_retriever_end(self, documents: Any, **kw: Any) -> None:
        self.events.append(("retriever_end", len(documents)))

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        self.events.append(("chain_start", kw.get("name")))

    def on_chain_end(self, outputs: Any, **kw: Any) -> None:
        self.events.append(("chain_end", len(outputs["documents"])))


def _scores(docs: list[LCDocument], key: str) -> list[float]:
    return [d.metadata[key] for d in docs]


def _is_descending(values: list[float]) -> bool:
    return all(a >= b for a, b in itertools.pairwise(values))


# ---------------------------------------------------------------------------- retriever
def test_retriever_returns_ids_metadata_and_scores(lc_index: Index) -> None:  # noqa: F811
    docs = ShortlistRetriever(index=lc_index, k=5).invoke(QUERY)
    hits = lc_index.search(
        QUERY, 5, mode="hybrid", alpha=defaults.HYBRID_ALPHA
    )  # the funnel default
    assert [d.id for d in docs] == [h.id for h in hits]
    for doc, hit in zip(docs, hits, strict=True):
        assert doc.page_content == hit.text
        assert doc.metadata[RETRIEVAL_SCORE_KEY] == pytest.approx(hit.score)
        assert doc.metadata[RETRIEVAL_RANK_KEY] == hit.rank
        assert RELEVANCE_SCORE_KEY not in doc.metadata  # no reranker ran
        assert doc.metadata["parity"] == hit.document.metadata["parity"]
    assert _is_descending(_scores(docs, RETRIEVAL_SCORE_KEY))


def test_retriever_k_defaults(lc_index: Index, lc_reranker: Reranker) -> None:  # noqa: F811
    assert len(ShortlistRetriever(index=lc_index).invoke(QUERY)) == 4
    pipe = Pipeline(lc_index, lc_reranker, fetch_k=10, top_n=2, fusion=None)
    assert len(ShortlistRetriever(pipeline=pipe).invoke(QUERY)) == 2


def test_retriever_k_and_filter_at_invoke(lc_index: Index) -> None:  # noqa: F811
    retriever = ShortlistRetriever(index=lc_index, k=6, filter={"parity": "even"})
    docs = retriever.invoke(QUERY)
    assert len(docs) == 6 and {d.metadata["parity"] for d in docs} == {"even"}
    docs = retriever.invoke(QUERY, k=3, filter={"parity": "odd"})
    assert len(docs) == 3 and {d.metadata["parity"] for d in docs} == {"odd"}


async def test_retriever_async_matches_sync(lc_index: Index) -> None:  # noqa: F811
    retriever = ShortlistRetriever(index=lc_index, k=5)
    sync_docs = retriever.invoke(QUERY, filter={"parity": "odd"})
    async_docs = await retriever.ainvoke(QUERY, filter={"parity": "odd"})
    assert [d.id for d in async_docs] == [d.id for d in sync_docs]
    assert _scores(async_docs, RETRIEVAL_SCORE_KEY) == pytest.approx(
        _scores(sync_docs, RETRIEVAL_SCORE_KEY)
    )


def test_retriever_needs_exactly_one_source(lc_index: Index) -> None:  # noqa: F811
    with pytest.raises(InvalidInputError, match="exactly one"):
        ShortlistRetriever()
    with pytest.raises(InvalidInputError, match="exactly one"):
        ShortlistRetriever(index=lc_index, pipeline=Pipeline(lc_index))


def test_pipeline_retriever_reranks(lc_index: Index, lc_reranker: Reranker) -> None:  # noqa: F811
    pipe = Pipeline(lc_index, lc_reranker, fetch_k=FETCH, top_n=5, fusion=None)
    docs = ShortlistRetriever(pipeline=pipe).invoke(QUERY, k=3)
    assert len(docs) == 3
    assert _is_descending(_scores(docs, RELEVANCE_SCORE_KEY))
    assert all(0.0 <= s <= 1.0 for s in _scores(docs, RELEVANCE_SCORE_KEY))
    assert all(RETRIEVAL_SCORE_KEY in d.metadata for d in docs)
    assert [d.id for d in docs] == [h.id for h in pipe.search(QUERY, top_n=3)]


async def test_async_retriever_does_not_block_loop(
    lc_index: Index,  # noqa: F811
    lc_reranker: Reranker,  # noqa: F811
) -> None:
    """The event loop keeps ticking while a retrieve + rerank is in flight."""
    retriever = ShortlistRetriever(
        pipeline=Pipeline(lc_index, lc_reranker, fetch_k=FETCH, top_n=3, fusion=None)
    )
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        docs = await retriever.ainvoke(QUERY)
    finally:
        task.cancel()
    assert len(docs) == 3
    assert ticks >= 3, f"event loop ticked only {ticks} times during ainvoke"


def test_retriever_callbacks_fire(lc_index: Index) -> None:  # noqa: F811
    rec = Recorder()
    ShortlistRetriever(index=lc_index, k=2).invoke(QUERY, config={"callbacks": [rec]})
    assert rec.events == [("retriever_start", "ShortlistRetriever"), ("retriever_end", 2)]


# ---------------------------------------------------------------------------- compressor
def _compression(index: Index, reranker: Reranker, **opts: Any) -> ContextualCompressionRetriever:
    return ContextualCompressionRetriever(
        base_compressor=ShortlistRerank(reranker=reranker, **{"fusion": None, **opts}),
        base_retriever=ShortlistRetriever(index=index, k=FETCH),
    )


def test_compression_retriever_sync(lc_index: Index, lc_reranker: Reranker) -> None:  # noqa: F811
    """Also a parity check: retriever + compressor and a Pipeline share one code path."""
    rec = Recorder()
    docs = _compression(lc_index, lc_reranker).invoke(QUERY, config={"callbacks": [rec]})
    assert len(docs) == 3  # LangChain's top_n convention
    assert _is_descending(_scores(docs, RELEVANCE_SCORE_KEY))
    retrieved = {
        h.id: h for h in lc_index.search(QUERY, FETCH, mode="hybrid", alpha=defaults.HYBRID_ALPHA)
    }
    for doc in docs:  # stage-1 scores survive the rerank
        hit = retrieved[doc.id]
        assert doc.metadata[RETRIEVAL_SCORE_KEY] == pytest.approx(hit.score)
        assert doc.metadata[RETRIEVAL_RANK_KEY] == hit.rank
        assert FUSED_SCORE_KEY not in doc.metadata
    names = [e for e in rec.events if e[0].endswith("start")]
    assert ("chain_start", "ShortlistRerank") in names
    assert ("chain_end", 3) in rec.events

    hits = Pipeline(lc_index, lc_reranker, fetch_k=FETCH, top_n=3, fusion=None).search(QUERY)
    assert [d.id for d in docs] == [h.id for h in hits]
    assert _scores(docs, RELEVANCE_SCORE_KEY) == pytest.approx(
        [h.relevance_score for h in hits], abs=1e-6
    )


async def test_compression_retriever_async_matches_sync(
    lc_index: Index,  # noqa: F811
    lc_reranker: Reranker,  # noqa: F811
) -> None:
    rag = _compression(lc_index, lc_reranker, top_n=5)
    sync_docs = rag.invoke(QUERY)
    async_docs = await rag.ainvoke(QUERY)
    assert [d.id for d in async_docs] == [d.id for d in sync_docs]
    assert _scores(async_docs, RELEVANCE_SCORE_KEY) == pytest.approx(
        _scores(sync_docs, RELEVANCE_SCORE_KEY), abs=1e-6
    )


async def test_compressor_never_mutates_inputs(
    lc_index: Index,  # noqa: F811
    lc_reranker: Reranker,  # noqa: F811
) -> None:
    inputs = ShortlistRetriever(index=lc_index, k=FETCH).invoke(QUERY)
    snapshot = copy.deepcopy(inputs)
    compressor = ShortlistRerank(reranker=lc_reranker, top_n=None, fusion=None)
    for out in (
        compressor.compress_documents(inputs, QUERY),
        await compressor.acompress_documents(inputs, QUERY),
    ):
        assert inputs == snapshot
        assert len(out) == FETCH
        assert all(o is not i and o.metadata is not i.metadata for o in out for i in inputs)


def test_compressor_on_foreign_documents(lc_reranker: Reranker) -> None:  # noqa: F811
    """Documents from any LangChain retriever: ids (even None) and metadata carried over."""
    docs = [
        LCDocument(page_content="The capital of France is Paris.", metadata={"src": "a"}),
        LCDocument(page_content="Bananas are yellow.", id="b", metadata={"src": "b"}),
        LCDocument(page_content="Paris is the largest city in France.", id="c"),
    ]
    out = ShortlistRerank(reranker=lc_reranker, top_n=2, fusion=None).compress_documents(
        docs, "What is the capital of France?"
    )
    assert [d.page_content for d in out] == [docs[0].page_content, docs[2].page_content]
    assert [d.id for d in out] == [None, "c"]
    assert out[0].metadata["src"] == "a"
    assert [d.metadata[RETRIEVAL_RANK_KEY] for d in out] == [1, 3]  # input positions
    assert all(RETRIEVAL_SCORE_KEY not in d.metadata for d in out)  # none was given


def test_compressor_scores_page_content_only(lc_reranker: Reranker) -> None:  # noqa: F811
    """Metadata never leaks into the scored text (LlamaIndex's EMBED-mode pitfall)."""
    plain = LCDocument(page_content="Paris is the capital of France.")
    noisy = LCDocument(page_content=plain.page_content, metadata={"source": "wiki.pdf", "p": 3})
    out = ShortlistRerank(reranker=lc_reranker, top_n=None, fusion=None).compress_documents(
        [plain, noisy], "capital of France"
    )
    assert out[0].metadata[RELEVANCE_SCORE_KEY] == pytest.approx(
        out[1].metadata[RELEVANCE_SCORE_KEY]
    )


def test_compressor_fusion_threshold_and_empty(lc_index: Index, lc_reranker: Reranker) -> None:  # noqa: F811
    inputs = ShortlistRetriever(index=lc_index, k=FETCH).invoke(QUERY)
    fused = ShortlistRerank(reranker=lc_reranker, top_n=5, fusion="rrf").compress_documents(
        inputs, QUERY
    )
    assert len(fused) == 5 and _is_descending(_scores(fused, FUSED_SCORE_KEY))
    assert all(RELEVANCE_SCORE_KEY in d.metadata for d in fused)

    everything = ShortlistRerank(reranker=lc_reranker, top_n=None, fusion=None).compress_documents(
        inputs, QUERY
    )
    cut = sorted(_scores(everything, RELEVANCE_SCORE_KEY))[FETCH // 2]
    kept = ShortlistRerank(
        reranker=lc_reranker, top_n=None, score_threshold=cut, fusion=None
    ).compress_documents(inputs, QUERY)
    assert kept and min(_scores(kept, RELEVANCE_SCORE_KEY)) >= cut
    assert len(kept) < len(everything)

    assert ShortlistRerank(reranker=lc_reranker, fusion=None).compress_documents([], QUERY) == []


def test_compressor_accepts_spec_string(onnx_model_path: Any) -> None:
    compressor = ShortlistRerank(reranker=f"onnx:{onnx_model_path}", top_n=1, fusion=None)
    assert isinstance(compressor.reranker, Reranker)
    out = compressor.compress_documents(
        [LCDocument(page_content="Cats purr."), LCDocument(page_content="FAISS searches vectors.")],
        "vector similarity search library",
    )
    assert out[0].page_content == "FAISS searches vectors."


def test_bad_specs_raise_typed_errors(lc_reranker: Reranker) -> None:  # noqa: F811
    with pytest.raises(UnknownBackendError):
        ShortlistRerank(reranker="no-such-backend:model", fusion=None)
    with pytest.raises(InvalidInputError, match="fusion"):
        ShortlistRerank(reranker=lc_reranker, fusion="median")
    with pytest.raises(InvalidInputError, match="top_n"):
        ShortlistRerank(reranker=lc_reranker, top_n=0, fusion=None)


# ---------------------------------------------------------------------------- LCEL
def _format(docs: list[LCDocument]) -> str:
    return "\n\n".join(f"[{d.id}] {d.page_content[:80]}" for d in docs)


async def test_lcel_rag_chain(lc_index: Index, lc_reranker: Reranker) -> None:  # noqa: F811
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the context.\n{context}"), ("human", "{question}")]
    )
    llm = FakeListChatModel(responses=["Use the similarity laws."])
    seen: list[Any] = []

    def spy(value: Any) -> Any:
        seen.append(value)
        return value

    compressor = ShortlistRerank(reranker=lc_reranker, top_n=2, fusion=None)

    def rerank(x: dict[str, Any]) -> list[LCDocument]:
        return list(compressor.compress_documents(x["docs"], x["question"]))

    async def arerank(x: dict[str, Any]) -> list[LCDocument]:
        return list(await compressor.acompress_documents(x["docs"], x["question"]))

    chain = (
        {"docs": ShortlistRetriever(index=lc_index, k=FETCH), "question": RunnablePassthrough()}
        | RunnableLambda(rerank, afunc=arerank)
        | RunnableLambda(spy)
        | (lambda docs: {"context": _format(docs), "question": QUERY})
        | prompt
        | llm
        | StrOutputParser()
    )
    assert chain.invoke(QUERY) == "Use the similarity laws."
    assert await chain.ainvoke(QUERY) == "Use the similarity laws."
    assert len(seen) == 2 and [d.id for d in seen[0]] == [d.id for d in seen[1]]
    assert all(RELEVANCE_SCORE_KEY in d.metadata for d in seen[0])

    pipe = Pipeline(lc_index, lc_reranker, fetch_k=FETCH, top_n=2, fusion=None)
    one_runnable = ShortlistRetriever(pipeline=pipe) | _format
    assert one_runnable.invoke(QUERY) == _format(seen[0])


# ---------------------------------------------------------------------------- packaging
def test_missing_langchain_core_gives_pip_hint() -> None:
    code = (
        "import sys; sys.modules['langchain_core'] = None\n"
        "from shortlist.errors import MissingDependencyError\n"
        "try:\n"
        "    import shortlist.langchain\n"
        "except MissingDependencyError as e:\n"
        "    print('OK', e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.stdout.startswith("OK"), result.stderr
    assert "pip install langchain-core" in result.stdout


def test_import_shortlist_does_not_import_langchain() -> None:
    code = "import sys, shortlist; print('langchain_core' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.stdout.strip() == "False", result.stderr
