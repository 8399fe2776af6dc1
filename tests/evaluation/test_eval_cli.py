"""``shortlist eval`` end to end, through the console entry point, on small slices."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from shortlist import defaults
from shortlist.cli import main
from shortlist.evaluation.cli import command_line


@pytest.fixture(scope="module")
def saved_index(memo_index, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """Cranfield's index on disk, so the CLI can skip the (slow) embedding with --index."""
    return memo_index.save(tmp_path_factory.mktemp("eval") / "cranfield-index")


def test_eval_with_a_real_onnx_reranker(
    saved_index: Path,
    cranfield_path: Path,
    bi_encoder_path: Path,
    onnx_model_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "report"
    argv = [
        "eval", str(cranfield_path), "--index", str(saved_index),
        "--embedder", str(bi_encoder_path), "--reranker", f"onnx:{onnx_model_path}",
        "-n", "5,10", "-m", "5", "--queries", "3", "--json", "--out", str(out), "-q",
    ]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # stdout holds only the JSON
    assert report["dataset"] == "cranfield" and report["queries"] == 3
    assert (report["k"], report["m"], report["n_values"]) == (10, 5, [5, 10])
    label = "onnx:ms-marco-MiniLM-L-12-v2-onnx-int8"
    systems = [(r["n"], r["system"]) for r in report["rows"]]
    # the shipped funnel with this reranker, against BM25, dense and hybrid stage 1 and the
    # reranker's own order
    baselines = ("stage 1 (bm25)", "stage 1 (dense)", "stage 1 (hybrid)")
    funnel = f"{label} + weighted:w=0.2 (hybrid)"
    assert systems == [
        (n, s) for n in (5, 10) for s in (*baselines, f"{label} (hybrid)", funnel)
    ]  # fmt: skip
    verdict_on_funnel = report["funnel"]
    assert verdict_on_funnel["funnel"] == funnel
    assert verdict_on_funnel["outcome"] in ("pays", "hurts", "cannot tell")
    assert verdict_on_funnel["baseline"] in baselines
    assert set(verdict_on_funnel["versus"]) == set(baselines)
    assert len(report["rows"][0]["per_query_ndcg"]) == 3
    for row in report["rows"]:
        assert 0 <= row["ndcg"] <= 1 and 0 <= row["mrr"] <= 1 and 0 <= row["recall_m"] <= 1
        assert row["stage1"]["p50_ms"] > 0 and row["qps"] > 0
        if row["system"].startswith("stage 1"):
            assert row["stage2"] is None and 0 < row["recall_n"] <= 1
        else:
            assert row["stage2"]["p95_ms"] >= row["stage2"]["p50_ms"] > 0
    (verdict,) = report["verdicts"]
    assert verdict["reranker"] == label
    assert verdict["outcome"] in ("pays", "does not pay", "hurts")
    assert verdict["text"].startswith(f"{label}: {verdict['outcome']}")
    assert report["settings"]["embedder"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert report["command"].startswith("shortlist eval ") and "--queries 3" in report["command"]

    md = (out / "report.md").read_text()
    assert report["command"] in md and "| N | system |" in md and verdict["text"] in md
    png = (out / "ndcg_vs_latency.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 800 and height >= 600
    assert json.loads((out / "report.json").read_text())["rows"] == report["rows"]
    assert "Wrote" in captured.err


def test_eval_builds_the_index_and_prints_a_table(
    cranfield_path: Path, bi_encoder_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --index: the corpus is embedded (Cranfield's first 2 queries, judged docs + 20)."""
    from shortlist.evaluation import load_beir
    from tests.evaluation.test_beir import make_beir

    full = load_beir(cranfield_path).head(2)
    judged = {d for j in full.qrels.values() for d in j}
    docs = [d for d in full.corpus if d.id in judged]
    docs += [d for d in full.corpus if d.id not in judged][:20]
    qrels = "".join(f"{q}\t{d}\t{g}\n" for q, j in full.qrels.items() for d, g in j.items())
    root = make_beir(
        tmp_path / "mini",
        docs={d.id: d.text for d in docs},
        queries=dict(full.queries) | {"99": "a query nobody judged"},
        qrels="query-id\tcorpus-id\tscore\n" + qrels,
    )
    argv = ["eval", str(root), "--embedder", str(bi_encoder_path), "-n", "10,20", "-q"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert f"mini: {len(docs)} documents, 2 evaluated queries" in captured.out
    assert "excluded 1 (no judgments)" in captured.out
    assert "stage 1" in captured.out and "nDCG@10" in captured.out
    assert "Excluded 1 queries" in captured.err


def test_errors_are_one_line_with_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shortlist: error:") and "corpus.jsonl" in err
    # argument mistakes fail before the dataset is read or anything is embedded
    assert main(["eval", str(tmp_path / "missing"), "-n", "5", "-m", "10"]) == 2
    assert "smallest N" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing"), "--fusion", "borda"]) == 2
    assert "Unknown fusion" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path), "-n", "10,x"])
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path), "-m", "0"])


def test_command_line_spells_out_the_defaults() -> None:
    import argparse

    from shortlist.evaluation.cli import add_eval_parser

    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "data dir", "--reranker", "onnx", "cross-encoder:x"])
    assert args.reranker == ["onnx", "cross-encoder:x"]
    assert command_line(args) == (
        "shortlist eval 'data dir' --reranker onnx --reranker cross-encoder:x "
        f"-n {defaults.FETCH_K} -m 10"
    )  # the funnel's fetch_k spelled out: the command reruns the same evaluation
