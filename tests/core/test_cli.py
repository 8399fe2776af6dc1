"""The command line, run in-process through its entry point on real models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shortlist.cli import main


@pytest.fixture(scope="module")
def notes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("notes")
    (root / "sub").mkdir()
    (root / "paris.md").write_text("# Paris\nParis is the capital and largest city of France.")
    (root / "tokyo.txt").write_text("Tokyo is the capital of Japan and its most populous city.")
    (root / "sub" / "python.md").write_text(
        "Python is a programming language created by Guido van Rossum."
    )
    (root / "ignored.bin").write_bytes(b"\x00\x01")
    return root


@pytest.fixture(scope="module")
def index_dir(
    notes_dir: Path, bi_encoder_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("idx") / "notes-index"
    assert (
        main(["index", str(notes_dir), "--out", str(out), "--embedder", str(bi_encoder_path), "-q"])
        == 0
    )
    return out


def test_index_folder_then_search_json(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert (
        main(["search", str(index_dir), "Which city is the capital of Japan?", "-n", "3", "--json"])
        == 0
    )
    items = json.loads(capsys.readouterr().out)
    assert [set(i) >= {"id", "score", "text", "metadata"} for i in items] == [True] * 3
    assert items[0]["id"] == "tokyo.txt"
    assert items[0]["metadata"] == {"source": "tokyo.txt"}
    assert items[0]["score"] >= items[1]["score"] >= items[2]["score"]
    assert {i["id"] for i in items} == {"tokyo.txt", "paris.md", "sub/python.md"}


def test_search_table_and_filter(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["search", str(index_dir), "capital city", "--filter", "source=paris.md"]) == 0
    out = capsys.readouterr().out
    assert "paris.md" in out and "tokyo.txt" not in out
    assert out.splitlines()[0].split()[:3] == ["rank", "id", "score"]


def test_cli_errors_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", str(tmp_path), "anything"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shortlist: error:") and "not a shortlist index" in err
    assert "Traceback" not in err


def test_index_beir_corpus_with_hnsw(
    tmp_path: Path, bi_encoder_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {
            "_id": "a",
            "title": "Lift",
            "text": "Lift on a wing grows with the angle of attack.",
            "year": 1950,
        },
        {"_id": "b", "title": "", "text": ""},
        {
            "_id": "c",
            "title": "Heat",
            "text": "Heat transfer at hypersonic speed heats the nose cone.",
        },
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "idx"
    assert (
        main(
            [
                "index",
                str(corpus),
                "--out",
                str(out),
                "--embedder",
                str(bi_encoder_path),
                "--index-spec",
                "hnsw",
                "-q",
            ]
        )
        == 0
    )
    assert json.loads((out / "manifest.json").read_text())["spec"].startswith("hnsw")
    capsys.readouterr()
    assert main(["search", str(out), "angle of attack", "-n", "3", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert items[0]["id"] == "a" and items[0]["metadata"] == {"title": "Lift", "year": 1950}
    assert len(items) == 3  # the empty document is kept, never dropped


def test_search_with_reranker_shows_both_rankings(
    index_dir: Path, onnx_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["search", str(index_dir), "Who created Python?", "-n", "3", "-m", "2"]
    capsys.readouterr()
    assert main([*args, "--reranker", f"onnx:{onnx_model_path}", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert len(items) == 2 and items[0]["id"] == "sub/python.md"
    assert {"relevance_score", "retrieval_score", "retrieval_rank"} <= set(items[0])
    assert items[0]["score"] == items[0]["fused_score"]  # the funnel's default fusion
    assert main([*args, "--reranker", f"onnx:{onnx_model_path}", "--fusion", "none", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert items[0]["score"] == items[0]["relevance_score"]
    assert main([*args, "--reranker", f"onnx:{onnx_model_path}"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header[:5] == ["rank", "id", "score", "retr.rank", "retr.score"]


def test_unknown_reranker_spec_is_a_clear_error(
    index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", str(index_dir), "q", "--reranker", "cohre:rerank-v3.5"]) == 2
    err = capsys.readouterr().err
    assert "cohere" in err and "Traceback" not in err


def test_exported_encoder_indexes_and_searches(
    index_dir: Path, notes_dir: Path, encoder_exports: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    export = encoder_exports["int8"]  # written by `shortlist export-encoder --int8`
    assert (export / "shortlist-encoder.json").is_file()
    capsys.readouterr()
    query = "Which city is the capital of Japan?"
    # the torch-built index takes queries from the export of its model
    assert main(["search", str(index_dir), query, "--embedder", f"onnx:{export}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == "tokyo.txt"
    # and an index can be built with it
    out = tmp_path / "onnx-index"
    build = ["index", str(notes_dir), "--out", str(out), "--embedder", f"onnx:{export}", "-q"]
    assert main(build) == 0
    capsys.readouterr()
    assert main(["search", str(out), query, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == "tokyo.txt"
    # a folder that is not an export fails before anything loads, saying how to make one
    assert main(["search", str(out), query, "--embedder", f"onnx:{tmp_path}"]) == 2
    assert "shortlist export-encoder" in capsys.readouterr().err
