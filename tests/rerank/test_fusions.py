"""The onnx reranker's graph fusions are chosen by CPU kind, forced by an option, named by
the spec and printed by ``shortlist doctor``; both fusion sets rank alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shortlist import InvalidInputError
from shortlist._onnxruntime import fusions_for
from shortlist.cli import main
from shortlist.cpu import int8_kind
from shortlist.rerank import load_reranker

QUERY = "what similarity laws must be obeyed when constructing aeroelastic models"
TEXTS = [
    "aeroelastic models of heated high speed aircraft must obey similarity laws",
    "the boundary layer on a flat plate in hypersonic flow",
    "flutter of wings: similarity parameters for scale models in wind tunnels",
    "heat transfer to a cylinder in a supersonic stream",
    "simple model laws for the vibration of structures",
]


@pytest.mark.parametrize(
    ("kind", "chosen"), [("vnni", "no-skip-layer-norm"), ("avx2", "all"), ("unknown", "all")]
)
def test_auto_leaves_skip_layer_norm_out_only_on_vnni(kind: str, chosen: str) -> None:
    assert fusions_for("auto", kind) == chosen
    assert fusions_for("all", "vnni") == "all"  # a forced set is never second-guessed
    assert fusions_for("no-skip-layer-norm", "avx2") == "no-skip-layer-norm"


def test_an_unknown_fusion_set_is_a_typed_error(onnx_model_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="fusions must be one of auto, all"):
        load_reranker(f"onnx:{onnx_model_path}?fusions=some")


def test_both_fusion_sets_rank_alike_and_the_spec_keeps_a_forced_one(
    onnx_model_path: Path,
) -> None:
    auto = load_reranker(f"onnx:{onnx_model_path}", activation="none")
    assert auto.fusions == fusions_for("auto")  # type: ignore[attr-defined]
    assert "fusions" not in auto.spec  # each machine picks its own
    other = "all" if auto.fusions != "all" else "no-skip-layer-norm"  # type: ignore[attr-defined]
    forced = load_reranker(f"onnx:{onnx_model_path}?fusions={other}", activation="none")
    assert f"fusions={other}" in forced.spec
    a, b = auto.score(QUERY, TEXTS), forced.score(QUERY, TEXTS)
    # measured on 100 Cranfield pairs: logits within 0.6 of each other, same top 10
    assert np.max(np.abs(a - b)) < 0.6
    assert list(np.argsort(-a)) == list(np.argsort(-b))


def test_doctor_names_the_cpu_kind_and_the_graph(capsys: pytest.CaptureFixture[str]) -> None:
    main(["doctor"])
    out = capsys.readouterr().out
    assert f"int8 kind {int8_kind()}" in out
    assert f"(fusions={fusions_for('auto')})" in out
