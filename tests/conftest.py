"""Shared fixtures: locate ../shared (or $SHORTLIST_SHARED) and load real models once.

Under CI=true a missing shared asset is a failure, never a skip: CI must exercise the
real models and datasets.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHORTLIST_SHARED", REPO.parent / "shared")).resolve()
MODELS = SHARED / "models"
DATASETS = SHARED / "datasets"

BI_ENCODER = MODELS / "all-MiniLM-L6-v2"
CROSS_ENCODER = MODELS / "ms-marco-MiniLM-L-12-v2"
CROSS_ENCODER_ONNX = MODELS / "ms-marco-MiniLM-L-12-v2-onnx-int8"


def need(path: Path) -> Path:
    """Return ``path`` if present; skip locally, fail under CI, if it is missing."""
    if path.exists():
        return path
    msg = (
        f"shared asset missing: {path} "
        "(set SHORTLIST_SHARED to the folder holding models/ and datasets/)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def dataset_dir() -> Path:
    """Cranfield if present, else the first dataset in ../shared/datasets."""
    cran = DATASETS / "cranfield"
    if cran.exists():
        return cran
    found = sorted(p for p in DATASETS.glob("*") if (p / "corpus.jsonl").exists())
    return need(found[0] if found else cran)


@pytest.fixture(scope="session")
def bi_encoder_path() -> Path:
    return need(BI_ENCODER)


@pytest.fixture(scope="session")
def cross_encoder_path() -> Path:
    return need(CROSS_ENCODER)


@pytest.fixture(scope="session")
def onnx_model_path() -> Path:
    return need(CROSS_ENCODER_ONNX)


@pytest.fixture(scope="session")
def cranfield_path() -> Path:
    return dataset_dir()
