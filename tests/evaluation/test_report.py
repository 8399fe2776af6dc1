"""evaluate(): per-N rows, the prefix rule, verdicts, black-box callables, rendering."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shortlist.errors import InvalidInputError
from shortlist.evaluation import (
    Dataset,
    evaluate,
    format_table,
    load_beir,
    mean_scores,
    write_report,
)
from shortlist.evaluation.measure import result_id
from shortlist.evaluation.render import to_markdown
from shortlist.evaluation.results import STAGE1_ROW
from shortlist.pipeline import Pipeline
from shortlist.rerank.base import Reranker


class Oracle(Reranker):
    """Scores each candidate by its judged grade: the best a reranker can do."""

    backend = "oracle"

    def __init__(self, data: Dataset, sign: float = 1.0) -> None:
        self.by_text = {text: data.qrels[q] for q, text in data.queries.items()}
        self.ids = {d.text: d.id for d in data.corpus}
        self.sign = sign

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        grades = self.by_text[query]
        return self.sign * np.array([grades.get(self.ids[t], 0) for t in texts], dtype=float)


class Keep(Reranker):
    """Scores every candidate alike, so the stable sort keeps the retrieval order (scores
    that depend on a pair alone, as every real reranker's do)."""

    backend = "keep"

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        return np.zeros(len(texts), dtype=float)


@pytest.fixture(scope="module")
def data(cranfield_path: Path) -> Dataset:
    return load_beir(cranfield_path).head(12)


@pytest.fixture(scope="module")
def report(memo_index, data):  # type: ignore[no-untyped-def]
    rerankers = [("oracle", Oracle(data)), ("anti", Oracle(data, -1.0)), Keep()]
    return evaluate(
        memo_index,
        data,
        n_values=(20, 10, 50),
        m=5,
        rerankers=rerankers,
        fusion="rrf",
        show_progress=False,
    )


def test_rows_cover_every_n_and_variant(report) -> None:  # type: ignore[no-untyped-def]
    assert report.n_values == (10, 20, 50)
    assert report.systems == [
        STAGE1_ROW, "oracle", "oracle + rrf:k=60", "anti", "anti + rrf:k=60", "keep",
        "keep + rrf:k=60",
    ]  # fmt: skip
    assert len(report.rows) == 3 * 7
    for row in report.rows:
        assert row.stage1.p50_ms > 0 and row.qps > 0
        assert (row.stage2 is None) == (row.system == STAGE1_ROW)
        assert (row.recall_n is None) == (row.system != STAGE1_ROW)


def test_stage1_rows_match_direct_search(report, memo_index, data) -> None:  # type: ignore[no-untyped-def]
    """Candidates for smaller N are the prefix of the one search at the largest N."""
    for n in report.n_values:
        run = {q: [h.id for h in memo_index.search(t, n)] for q, t in data.queries.items()}
        expect = mean_scores(run, data.qrels, ["nDCG@10", "MRR@10", "Recall@5", f"Recall@{n}"])
        row = report.row(n)
        got = [row.ndcg, row.mrr, row.recall_m, row.recall_n]
        assert got == pytest.approx(list(expect.values()), abs=1e-12)
    recalls = [report.row(n).recall_n for n in report.n_values]
    assert recalls == sorted(recalls)


def test_oracle_pays_anti_oracle_hurts(report) -> None:  # type: ignore[no-untyped-def]
    by = {v.reranker: v for v in report.verdicts}
    assert by["oracle"].outcome == "pays" and by["oracle"].gain > 0.1
    assert by["oracle"].best_n == 50  # more candidates, more for a perfect reranker to find
    assert report.row(50, "oracle").recall_m >= report.row(50, STAGE1_ROW).recall_m
    assert by["anti"].outcome == "hurts" and by["anti"].gain < 0
    assert "hurts" in by["anti"].text and "fusion (rrf:k=60)" in by["anti"].text
    assert by["keep"].outcome == "does not pay" and by["keep"].gain == pytest.approx(0)
    assert by["keep"].better_queries == by["keep"].worse_queries == 0
    assert report.row(20, "keep").ndcg == pytest.approx(report.row(20).ndcg)


def test_pipeline_contributes_its_reranker_and_fusion(memo_index, data) -> None:  # type: ignore[no-untyped-def]
    pipe = Pipeline(memo_index, Keep(), fusion="weighted:w=0.5")
    rep = evaluate(pipe, data.head(3), n_values=(10,), fusion=None, show_progress=False)
    # a pipeline is a funnel: judged against BM25, dense and its own (hybrid) stage 1
    assert rep.systems == [
        "stage 1 (bm25)", "stage 1 (dense)", "stage 1 (hybrid)", "keep (hybrid)",
        "keep + weighted:w=0.5 (hybrid)",
    ]  # fmt: skip
    assert rep.funnel is not None and rep.funnel.funnel == "keep + weighted:w=0.5 (hybrid)"
    best = max((r for r in rep.rows if r.reranker is None), key=lambda r: r.ndcg)
    assert rep.funnel.baseline == best.system
    assert rep.funnel.difference.low <= rep.funnel.difference.mean <= rep.funnel.difference.high


def test_fused_rows_with_different_k_are_two_rows(memo_index, data) -> None:  # type: ignore[no-untyped-def]
    """Named by the fusion's full spec: a second rrf row must not overwrite the first."""
    pipe = Pipeline(memo_index, Oracle(data, -1.0), fusion="rrf:k=60")
    rep = evaluate(pipe, data.head(3), n_values=(10,), fusion="rrf:k=1", show_progress=False)
    assert rep.systems[3:] == [
        "oracle (hybrid)", "oracle + rrf:k=1 (hybrid)", "oracle + rrf:k=60 (hybrid)"
    ]  # fmt: skip
    assert len(rep.rows) == 6
    k1, k60 = (
        rep.row(10, name) for name in ("oracle + rrf:k=1 (hybrid)", "oracle + rrf:k=60 (hybrid)")
    )
    assert (k1.fusion, k60.fusion) == ("rrf:k=1", "rrf:k=60")


def test_several_fusions_are_rows_of_one_run(memo_index, data) -> None:  # type: ignore[no-untyped-def]
    oracle = Oracle(data, 1.0)
    rep = evaluate(
        memo_index,
        data.head(3),
        n_values=(10,),
        rerankers=[("oracle", oracle)],
        fusion=["rrf", "weighted:w=0.2", "weighted:w=1"],
        show_progress=False,
    )
    assert rep.systems == [
        STAGE1_ROW, "oracle", "oracle + rrf:k=60", "oracle + weighted:w=0.2",
        "oracle + weighted:w=1",
    ]  # fmt: skip
    # weight 1 on the reranker is the reranker's own order
    assert rep.row(10, "oracle + weighted:w=1").ndcg == rep.row(10, "oracle").ndcg


def test_black_box_callables(memo_index, data, report) -> None:  # type: ignore[no-untyped-def]
    rep = evaluate(lambda q: memo_index.search(q, 10), data, m=5, show_progress=False)
    (row,) = rep.rows
    assert row.n is None and row.stage2 is None and not rep.verdicts
    assert row.ndcg == pytest.approx(report.row(10).ndcg)
    assert row.recall_m == pytest.approx(report.row(10).recall_m)
    ids = evaluate(
        lambda q: [h.id for h in memo_index.search(q, 10)], data, m=5, show_progress=False
    )
    assert ids.rows[0].ndcg == pytest.approx(row.ndcg)
    assert "latency p50/p95 ms" in format_table(rep)


def test_framework_results_are_recognised(memo_index, data) -> None:  # type: ignore[no-untyped-def]
    from langchain_core.documents import Document as LCDocument
    from llama_index.core.schema import NodeWithScore, TextNode

    hit = memo_index.search("wing", 1)[0]
    assert result_id(hit) == result_id(hit.document) == result_id(hit.id) == hit.id
    assert result_id(LCDocument(id="7", page_content="x")) == "7"
    assert result_id(NodeWithScore(node=TextNode(id_="9", text="x"), score=1.0)) == "9"
    assert result_id(TextNode(id_="9", text="x")) == "9"
    with pytest.raises(InvalidInputError, match="no document id"):
        result_id(LCDocument(page_content="no id"))

    class Retriever:  # a LangChain-style object: invoke(), not callable
        def invoke(self, query: str) -> list[LCDocument]:
            return [LCDocument(id=h.id, page_content=h.text) for h in memo_index.search(query, 10)]

    rep = evaluate(Retriever(), data.head(3), show_progress=False)
    assert rep.rows[0].system.endswith("invoke") and rep.rows[0].ndcg > 0


def test_bad_arguments(memo_index, data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match="smallest N"):
        evaluate(memo_index, data, n_values=(5, 10), m=10, show_progress=False)
    with pytest.raises(InvalidInputError, match="n_values must be a positive integer"):
        evaluate(memo_index, data, n_values=(0,), show_progress=False)
    with pytest.raises(InvalidInputError, match="need a Pipeline or an Index"):
        evaluate(lambda q: [], data, rerankers=[Keep()], show_progress=False)
    with pytest.raises(InvalidInputError, match="Cannot evaluate"):
        evaluate(42, data, show_progress=False)
    with pytest.raises(InvalidInputError, match="rerankers must be"):
        evaluate(memo_index, data, rerankers=[3.5], show_progress=False)  # type: ignore[list-item]


def test_index_must_hold_the_corpus(bi_encoder, data) -> None:  # type: ignore[no-untyped-def]
    from shortlist.index import Index

    other = Index(bi_encoder)
    other.add(["unrelated"], ids=["zz"], embeddings=np.ones((1, bi_encoder.dim)))
    with pytest.raises(InvalidInputError, match=r"build it from dataset\.corpus"):
        evaluate(other, data, show_progress=False)


def test_rendering(report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = format_table(report)
    lines = table.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("N "))
    assert set(lines[header + 1]) <= {"-", " "}
    assert "oracle + rrf:k=60" in table and "Verdicts:" in table
    md = to_markdown(report, command="shortlist eval x", chart="c.png")
    assert "| N | system |" in md and "```\nshortlist eval x\n```" in md and "![" in md
    assert md.count("\n| ") == len(report.rows) + 1
    paths = write_report(report, tmp_path / "out", command="shortlist eval x")
    names = sorted(p.name for p in paths)
    assert names == ["ndcg_vs_latency.png", "report.json", "report.md"]
    assert (tmp_path / "out" / "ndcg_vs_latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    payload = json.loads((tmp_path / "out" / "report.json").read_text())
    assert payload["command"] == "shortlist eval x" and len(payload["rows"]) == len(report.rows)
    assert len(payload["rows"][0]["per_query_ndcg"]) == 12  # for paired comparisons later
    assert "per_query_ndcg" not in report.to_dict()["rows"][0]


def test_framework_adapters_evaluate_like_the_index(memo_index, data, report) -> None:  # type: ignore[no-untyped-def]
    """User pipelines built with the LangChain / LlamaIndex adapters plug straight in."""
    from shortlist.langchain import ShortlistRetriever as LCRetriever
    from shortlist.llama_index import ShortlistRetriever as LIRetriever

    # every entry point defaults to the same stage 1 as the index the report evaluated
    lc = evaluate(LCRetriever(index=memo_index, k=10), data, m=5, show_progress=False)
    li = evaluate(
        LIRetriever(index=memo_index, similarity_top_k=10).retrieve,
        data,
        m=5,
        show_progress=False,
    )
    for rep in (lc, li):
        assert rep.rows[0].ndcg == pytest.approx(report.row(10).ndcg)
        assert rep.rows[0].recall_m == pytest.approx(report.row(10).recall_m)
