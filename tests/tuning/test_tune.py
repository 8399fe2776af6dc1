"""``shortlist tune`` end to end on a real model, CI-sized: a few Cranfield queries, one
short epoch. Training labels are inverted on purpose (relevant documents labelled 0, some
non-relevant ones 1) while dev and test keep the true labels, so the tuned model cannot
beat its base: the verdict must keep the base model, and say so everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shortlist.cli import main
from shortlist.evaluation.beir import load_beir
from shortlist.index import Index
from shortlist.rerank import load_reranker
from shortlist.tuning import split_queries
from shortlist.tuning.export import _spearman

QUERIES = 15
SEED = 0


@pytest.fixture(scope="module")
def inverted_data(
    tmp_path_factory: pytest.TempPathFactory, cranfield_path: Path, cranfield_index: Index
) -> Path:
    """JSONL of the first Cranfield queries; train queries' labels inverted."""
    beir = load_beir(cranfield_path)
    qids = list(beir.queries)[:QUERIES]
    # tune names JSONL queries q1, q2, ... in order of first appearance, and splits by seed
    names = {f"q{i + 1}": qid for i, qid in enumerate(qids)}
    train = {names[q] for q in split_queries(list(names), seed=SEED).train}
    rows = []
    for name, qid in names.items():
        query, relevant = beir.queries[qid], beir.qrels[qid]
        others = [h.id for h in cranfield_index.search(query, 12) if h.id not in relevant][:4]
        flip = name in train
        for doc in relevant:
            label = 1 if relevant[doc] > 0 else 0
            rows.append({"query": query, "document_id": doc, "label": 1 - label if flip else label})
        for doc in others:
            rows.append({"query": query, "document_id": doc, "label": 1 if flip else 0})
    path = tmp_path_factory.mktemp("tune") / "inverted.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tuned(
    tmp_path_factory: pytest.TempPathFactory,
    inverted_data: Path,
    cranfield_index: Index,
    cross_encoder_path: Path,
) -> tuple[Path, int, str]:
    root = tmp_path_factory.mktemp("tuned")
    index_dir = cranfield_index.save(root / "index")
    out = root / "model"
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main([
            "tune", str(inverted_data), "--index", str(index_dir), "--out", str(out),
            "--base", str(cross_encoder_path), "--epochs", "1", "--lr", "1e-4",
            "--max-length", "128", "-n", "10", "--negatives", "3", "--seed", str(SEED), "-q",
        ])  # fmt: skip
    return out, code, stdout.getvalue()


def test_tuning_that_cannot_pay_keeps_the_base(
    tuned: tuple[Path, int, str], cross_encoder_path: Path
) -> None:
    out, code, stdout = tuned
    assert code == 0
    record = json.loads((out / "tuning.json").read_text(encoding="utf-8"))
    assert record["tuned_wins"] is False
    assert record["use"] == str(cross_encoder_path)
    assert record["held_out"]["tuned"] < record["held_out"]["base"]
    assert "Tuning does not pay" in record["verdict"] and "Keep the base model" in record["verdict"]
    assert stdout.strip().splitlines()[-1] == record["verdict"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert record["verdict"] in card and "binary cross-entropy" in card
    assert "| tuned |" in (out / "held-out.md").read_text(encoding="utf-8")


def test_split_is_written_and_disjoint(tuned: tuple[Path, int, str]) -> None:
    split = json.loads((tuned[0] / "split.json").read_text(encoding="utf-8"))
    sets = [set(split[k]) for k in ("train", "dev", "test")]
    assert sum(map(len, sets)) == QUERIES == len(set().union(*sets))
    assert split["seed"] == SEED


def test_the_tuned_model_loads_in_both_backends_and_ranks_alike(
    tuned: tuple[Path, int, str], cranfield_index: Index, cross_encoder_path: Path
) -> None:
    out = tuned[0]
    query = "what similarity laws must be obeyed when constructing aeroelastic models"
    texts = [h.text for h in cranfield_index.search(query, 20)]
    torch_scores = load_reranker(f"cross-encoder:{out}").score(query, texts)
    onnx_scores = load_reranker(f"onnx:{out / 'onnx'}").score(query, texts)
    base_scores = load_reranker(f"cross-encoder:{cross_encoder_path}").score(query, texts)
    assert not np.allclose(torch_scores, base_scores, atol=1e-3)  # training changed it
    record = json.loads((out / "tuning.json").read_text(encoding="utf-8"))
    assert record["onnx_graph"] in ("int8", "float32")
    assert record["onnx_spearman"] >= 0.95  # int8 is kept only at 0.95 (else float32)
    # on a query none of the check used: float32 ranks identically, int8 nearly so
    assert _spearman(torch_scores, onnx_scores) >= (
        0.9 if record["onnx_graph"] == "int8" else 0.999
    )
