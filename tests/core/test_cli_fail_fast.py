"""Cheap command-line mistakes fail in well under a second, before anything loads.

Each case runs ``shortlist.cli.main`` in a fresh interpreter against a real index (built
with the real bi-encoder, whose load alone takes seconds), then reports the exit code, the
seconds ``main`` took, and which heavy modules were imported. A mistake caught only after
the index or a model loaded would show up as torch/faiss/onnxruntime in that list and as
seconds on the clock.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

HEAVY = ["torch", "faiss", "onnxruntime", "cohere", "sentence_transformers", "transformers"]
BUDGET_S = 2.0

_DRIVER = """
import json, sys, time
from shortlist.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
seconds = time.perf_counter() - start
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"code": code, "seconds": seconds, "heavy": heavy}}), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def index_dir(bi_encoder, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    from shortlist.index import Index

    index = Index(bi_encoder)
    index.add(["Swept wings delay shock waves.", "Sourdough rises because of wild yeast."])
    return index.save(tmp_path_factory.mktemp("fail-fast") / "idx")


def run_cli(*args: str, cwd: Path | None = None, **env: str) -> tuple[dict[str, object], str]:
    """(what the driver reported, the rest of stderr) for ``shortlist ARGS``."""
    base = {k: v for k, v in os.environ.items() if k not in ("CO_API_KEY", "COHERE_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **env},
        timeout=120,
    )
    *lines, report = done.stderr.strip().splitlines()
    return json.loads(report), "\n".join(lines)


def assert_fast_one_line_error(result: dict[str, object], err: str, says: str) -> None:
    assert result["code"] == 2, err
    assert err.count("\n") == 0 and err.startswith("shortlist: error: "), err
    assert says in err, err
    assert "Traceback" not in err
    assert result["heavy"] == [], f"loaded {result['heavy']} before rejecting: {err}"
    assert float(result["seconds"]) < BUDGET_S, result  # type: ignore[arg-type]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SEARCH_MISTAKES = [
    pytest.param(
        ["--reranker", "onx:cross-encoder/ms-marco-MiniLM-L-12-v2"],
        "--reranker 'onx:cross-encoder/ms-marco-MiniLM-L-12-v2': Unknown reranker backend "
        "'onx' in 'onx:cross-encoder/ms-marco-MiniLM-L-12-v2'. Did you mean 'onnx'?",
        id="spec-typo",
    ),
    pytest.param(
        ["--reranker", "onnx?treads=2"],
        "'treads' for the 'onnx' reranker in 'onnx?treads=2'. Did you mean 'threads'?",
        id="option-typo",
    ),
    pytest.param(
        ["--reranker", "cohere:rerank-v3.5"],
        "No Cohere API key: set the CO_API_KEY environment variable",
        id="cohere-key",
    ),
    pytest.param(
        ["--reranker", "onnx:./no-such-model"], "'./no-such-model' does not exist", id="no-model"
    ),
    pytest.param(["-n", "0"], "-n must be a positive integer (candidates to retrieve)", id="n0"),
    pytest.param(["-m", "0"], "-m must be a positive integer (results to show)", id="m0"),
    pytest.param(
        ["-n", "5", "-m", "20"], "-m 20 exceeds -n 5: -m results are kept from the -n", id="m>n"
    ),
    pytest.param(
        ["-n", "3", "-m", "4", "--reranker", "onnx"], "-m 4 exceeds -n 3", id="m>n-reranked"
    ),
    pytest.param(["--fusion", "rrf"], "--fusion combines", id="fusion-without-reranker"),
    pytest.param(
        ["--reranker", "onnx", "--fusion", "rfr"], "--fusion 'rfr': Unknown fusion", id="fusion"
    ),
    pytest.param(["--filter", "year"], "--filter expects key=value", id="filter"),
    pytest.param(
        ["--reranker", "onnx", "--rerank-budget-ms", "0"], "rerank_budget_ms", id="budget0"
    ),
    pytest.param(
        ["--reranker", "onnx", "--rerank-budget-ms", "nan"], "rerank_budget_ms", id="budget-nan"
    ),
]


@pytest.mark.parametrize(("flags", "says"), SEARCH_MISTAKES)
def test_search_mistakes_fail_before_loading(index_dir: Path, flags: list[str], says: str) -> None:
    result, err = run_cli("search", str(index_dir), "swept wings", *flags)
    assert_fast_one_line_error(result, err, says)


def test_a_folder_that_is_not_an_index_fails_before_loading(tmp_path: Path) -> None:
    result, err = run_cli("search", str(tmp_path), "swept wings", "-q")
    assert_fast_one_line_error(result, err, "is not a shortlist index")


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_fails_before_loading(index_dir: Path, query: str) -> None:
    result, err = run_cli("search", str(index_dir), query)
    assert_fast_one_line_error(result, err, "The query is empty")


def test_unknown_model_with_no_network_fails_at_once(tmp_path: Path) -> None:
    """No HF_HUB_OFFLINE, hub unreachable (a closed loopback port): no retries, right advice."""
    notes = tmp_path / "notes"
    notes.mkdir()
    notes.joinpath("a.md").write_text("Swept wings delay shock waves.")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    env = dict(HF_ENDPOINT=endpoint, HF_HUB_OFFLINE="", NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    args = ["index", str(notes), "--out", str(tmp_path / "idx"), "--embedder", "nosuch/model"]
    result, err = run_cli(*args, **env)
    assert_fast_one_line_error(result, err, "Hugging Face Hub cannot be reached")
    assert endpoint in err and "HF_HUB_OFFLINE" not in err


def test_index_mistakes_fail_before_loading(tmp_path: Path) -> None:
    empty = tmp_path / "corpus.jsonl"
    empty.write_text("\n\n")
    (tmp_path / "empty-folder").mkdir()
    out = str(tmp_path / "idx")
    cases = [
        (["index", str(empty), "--out", out], "corpus.jsonl holds no documents"),
        (["index", str(tmp_path / "empty-folder"), "--out", out], "holds no documents"),
        (["index", str(empty), "--out", out, "--batch-size", "0"], "--batch-size must be"),
        (["index", str(empty), "--out", out, "--index-spec", "hsnw"], "--index-spec 'hsnw'"),
    ]
    for args, says in cases:
        result, err = run_cli(*args)
        assert_fast_one_line_error(result, err, says)
    assert not (tmp_path / "idx").exists()


def test_info_into_a_closed_pipe_is_quiet(index_dir: Path) -> None:
    """`shortlist info DIR | head`: the reader leaving early is not an error."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, deterministically
    try:
        done = subprocess.run(
            [sys.executable, "-m", "shortlist.cli", "info", str(index_dir)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141  # as if killed by SIGPIPE, like other Unix tools


@pytest.mark.slow
def test_quiet_means_no_progress_bars(tmp_path: Path, bi_encoder_path: Path) -> None:
    """-q silences our bars and the libraries' (transformers' "Loading weights")."""
    notes = tmp_path / "notes"
    notes.mkdir()
    notes.joinpath("a.md").write_text("Swept wings delay shock waves.")
    out = tmp_path / "idx"
    shortlist = [sys.executable, "-m", "shortlist.cli"]
    steps = [
        ["index", str(notes), "--out", str(out), "--embedder", str(bi_encoder_path), "-q"],
        ["search", str(out), "swept wings", "-n", "1", "-q"],
    ]
    for step in steps:
        done = subprocess.run([*shortlist, *step], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr
    loud = subprocess.run(
        [*shortlist, "search", str(out), "swept wings", "-n", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if int(version("transformers").split(".")[0]) >= 5:  # draws "Loading weights" per model
        assert "Loading weights" in loud.stderr  # so the quiet runs above prove something


TUNE_MISTAKES = [
    pytest.param(["--split", "0.5,0.5,0.5"], "sum to 1", id="split-sum"),
    pytest.param(["--split", "a,b,c"], "--split expects three fractions", id="split-text"),
    pytest.param(["--window", "10:5"], "negative window 10:5 is empty", id="window"),
    pytest.param(["--negatives", "-1"], "--negatives must be 0 or more", id="negatives"),
    pytest.param(["--filter-margin", "2"], "--filter-margin must be within 0..1", id="margin"),
    pytest.param(["--epochs", "0"], "--epochs must be a positive integer", id="epochs"),
    pytest.param(["--lr", "nan"], "--lr must be a positive finite number", id="lr"),
    pytest.param(["--mode", "semantic"], "mode must be one of", id="mode"),
    pytest.param(["--base", "./no-such-model"], "'./no-such-model' does not exist", id="base"),
]


@pytest.mark.parametrize(("flags", "says"), TUNE_MISTAKES)
def test_tune_mistakes_fail_before_loading(
    index_dir: Path, tmp_path: Path, flags: list[str], says: str
) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text('{"query": "q", "positive": "p"}\n')
    args = ["tune", str(data), "--index", str(index_dir), "--out", str(tmp_path / "m"), *flags]
    result, err = run_cli(*args)
    assert_fast_one_line_error(result, err, says)


def test_tune_refuses_a_folder_that_is_not_empty(index_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("mine")
    data = tmp_path / "data.jsonl"
    data.write_text('{"query": "q", "positive": "p"}\n')
    result, err = run_cli(
        "tune", str(data), "--index", str(index_dir), "--out", str(tmp_path / "m")
    )
    assert_fast_one_line_error(result, err, "is not empty")
    assert (tmp_path / "m" / "keep.txt").read_text() == "mine"
