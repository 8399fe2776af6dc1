"""Retrieve 50, rerank to 5, answer: a LangChain RAG chain on shortlist, fully offline.

Builds a MiniLM index over the first few hundred Cranfield abstracts, retrieves 50
candidates with ``ShortlistRetriever``, reranks them to 5 with the int8 ONNX
cross-encoder through ``ShortlistRerank`` inside LangChain's
``ContextualCompressionRetriever``, and feeds them to an LCEL chain whose "LLM" is
LangChain's fake chat model (no API key). Each printed document shows the score it is
ordered by and both stage scores;
``*`` marks documents the Cranfield judges rated relevant.

Run from the repository root::

    python examples/langchain_rag.py [--docs 300] [--query "..."]

Set ``SHORTLIST_SHARED`` if the models/datasets folder is not ``../shared``.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableParallel, RunnablePassthrough

import shortlist as sl
from shortlist.langchain import ShortlistRerank, ShortlistRetriever

SHARED = Path(
    os.environ.get("SHORTLIST_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)
BI_ENCODER = SHARED / "models" / "all-MiniLM-L6-v2"
RERANKER = SHARED / "models" / "ms-marco-MiniLM-L-12-v2-onnx-int8"
CRANFIELD = SHARED / "datasets" / "cranfield"
QUERY_ID = "1"  # "what similarity laws must be obeyed when constructing aeroelastic models..."


def relevant_ids(query_id: str) -> set[str]:
    """Documents the Cranfield judges marked relevant for ``query_id``."""
    with (CRANFIELD / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        return {
            row["corpus-id"]
            for row in csv.DictReader(fh, delimiter="\t")
            if row["query-id"] == query_id and int(row["score"]) > 0
        }


def default_query() -> str:
    for line in (CRANFIELD / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if f'"_id": "{QUERY_ID}"' in line:
            return line.split('"text": "', 1)[1].rsplit('"', 1)[0]
    raise SystemExit(f"query {QUERY_ID} not found in {CRANFIELD}")


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(f"[{d.id}] {d.page_content}" for d in docs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300, help="Cranfield docs to index")
    parser.add_argument("--query", default=None, help="question (default: Cranfield query 1)")
    args = parser.parse_args()
    for path in (BI_ENCODER, RERANKER, CRANFIELD):
        if not path.exists():
            raise SystemExit(f"missing {path}; set SHORTLIST_SHARED to the shared folder")
    query = args.query or default_query()

    t0 = time.perf_counter()
    docs = sl.load_documents(CRANFIELD)[: args.docs]
    index = sl.Index.build(docs, encoder=str(BI_ENCODER))
    print(f"indexed {len(index)} docs in {time.perf_counter() - t0:.1f}s")

    retriever = ContextualCompressionRetriever(
        base_retriever=ShortlistRetriever(index=index, k=50),
        base_compressor=ShortlistRerank(reranker=f"onnx:{RERANKER}", top_n=5),
    )
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer using only this context, citing [ids].\n\n{context}"),
            ("human", "{question}"),
        ]
    )
    llm = FakeListChatModel(responses=["(fake LLM) See the cited wind-tunnel studies [..]."])
    answer = (
        (lambda x: {"context": format_docs(x["docs"]), "question": x["question"]})
        | prompt
        | llm
        | StrOutputParser()
    )
    # LangChain's "RAG with sources" shape: keep the reranked docs next to the answer.
    rag_chain = RunnableParallel(docs=retriever, question=RunnablePassthrough()).assign(
        answer=answer
    )

    t0 = time.perf_counter()
    result = rag_chain.invoke(query)
    top = result["docs"]
    took = time.perf_counter() - t0
    print(f"\nQ: {query}\nretrieve 50 + rerank to {len(top)} + answer: {took:.2f}s")
    relevant = relevant_ids(QUERY_ID) if args.query is None else set()
    # "score" is what the documents are ordered by: the fused score where the compressor
    # fused the reranker with stage 1, else the reranker's relevance score.
    print(f"{'':2}{'id':>5}  {'score':>7}  {'relevance':>9}  {'retrieval':>9}  {'was #':>5}  title")
    for d in top:
        mark = "*" if d.id in relevant else " "
        title = d.page_content.splitlines()[0][:60]
        score = d.metadata.get("fused_score", d.metadata["relevance_score"])
        print(
            f"{mark:2}{d.id:>5}  {score:7.4f}  {d.metadata['relevance_score']:9.4f}  "
            f"{d.metadata['retrieval_score']:9.4f}  {d.metadata['retrieval_rank']:5d}  {title}"
        )

    print(f"\nA: {result['answer']}")


if __name__ == "__main__":
    main()
