"""The funnel's defaults live in shortlist.defaults and every entry point reads them: the
Pipeline, the CLI and both frameworks' rerankers cannot drift apart (defaults chosen by
evidence on three collections, docs/results/modes.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shortlist import Index, Pipeline, defaults
from shortlist.rerank.fusion import Fusion
from tests.rerank.test_fallback import Scripted
from tests.unit.toy import HashEncoder

FUSION = None if defaults.FUSION is None else str(Fusion.parse(defaults.FUSION))


class LocalScripted(Scripted):
    """A scripted reranker that fuses by default, as the local cross-encoders do."""

    default_fusion = defaults.FUSION


def test_pipeline_defaults() -> None:
    index = Index.build(["a b", "c d", "e f"], HashEncoder(), ids=["1", "2", "3"])
    pipe = Pipeline(index, LocalScripted("a"), top_n=2)
    assert pipe.fetch_k == defaults.FETCH_K
    assert (None if pipe.fusion is None else str(pipe.fusion)) == FUSION
    assert Pipeline(index, Scripted("a"), top_n=2).fusion is None  # e.g. Cohere: its order
    assert Pipeline(index, LocalScripted("a"), top_n=2, fusion=None).fusion is None
    assert pipe.mode == defaults.STAGE1_MODE  # build() adds BM25
    assert pipe.alpha == defaults.HYBRID_ALPHA
    dense_only = Index.build(["a b"], HashEncoder(), ids=["1"], bm25=False)
    assert Pipeline(dense_only, top_n=1).mode == "dense"


def test_framework_rerankers_default_to_the_funnels_rule() -> None:
    from shortlist.langchain import ShortlistRerank as LCRerank
    from shortlist.llama_index import ShortlistRerank as LIRerank

    assert LCRerank(reranker=Scripted("a")).fusion == "auto"
    assert LIRerank(reranker=Scripted("a")).fusion == "auto"
    assert LCRerank(reranker=Scripted("a"), fusion="rrf").fusion == "rrf:k=60"


@pytest.mark.parametrize(("reranker", "n"), [(True, defaults.FETCH_K), (False, 10)])
def test_cli_search_candidates_default(tmp_path: Path, reranker: bool, n: int) -> None:
    from shortlist.cli import build_parser, check_search

    index = Index.build(["a b", "c d"], HashEncoder(), ids=["1", "2"]).save(tmp_path / "i")
    argv = ["search", str(index), "q"] + (["--reranker", "onnx"] if reranker else [])
    args = build_parser().parse_args(argv)
    check_search(args)
    assert args.n == n
    assert args.fusion is None  # "auto", resolved by the backend's rule when the pipeline is built


def test_the_shipped_defaults_are_the_ones_the_evidence_chose() -> None:
    """docs/results/modes.md is rendered from the committed eval reports; the setting it
    chooses (smallest worst-case gap among those that rerank) must be what ships."""
    from benchmarks.modes import COLLECTIONS, render

    text = render(list(COLLECTIONS))  # cranfield, cisi, medline: one setting for all three
    assert "-- the chosen one." in text, [line for line in text.splitlines() if "Shipped" in line]
    assert "## Leave one collection out" in text
