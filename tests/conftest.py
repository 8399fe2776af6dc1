"""Shared fixtures: locate ../shared (or $SHORTLIST_SHARED) and load real models once.

Under CI=true a missing shared asset is a failure, never a skip: CI must exercise the
real models and datasets.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach a model hub: every model comes from ../shared or an offline package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

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


@pytest.fixture(scope="session")
def bi_encoder(bi_encoder_path: Path):  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2 bi-encoder, loaded once per session."""
    from shortlist.encoders import SentenceTransformerEncoder

    return SentenceTransformerEncoder(bi_encoder_path)


@pytest.fixture(scope="session")
def cranfield_docs(cranfield_path: Path):  # type: ignore[no-untyped-def]
    """All Cranfield documents (the two empty ones included, as in the original)."""
    from shortlist.loaders import load_documents

    return load_documents(cranfield_path)


@pytest.fixture(scope="session")
def cranfield_vectors(request: pytest.FixtureRequest, bi_encoder, cranfield_docs):  # type: ignore[no-untyped-def]
    """Embeddings of every Cranfield document, computed once (and cached between local runs).

    The cache is keyed by the model weights and the corpus, so it can never go stale; CI
    starts from a clean clone and always computes them.
    """
    import hashlib

    import numpy as np

    key = hashlib.sha256()
    for f in (BI_ENCODER / "model.safetensors", dataset_dir() / "corpus.jsonl"):
        stat = f.stat()
        key.update(f"{f}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    cache = request.config.cache.mkdir("shortlist") / f"cranfield-{key.hexdigest()[:16]}.npy"
    if cache.exists():
        return np.load(cache)
    vectors = bi_encoder.encode_documents([d.text for d in cranfield_docs], batch_size=32)
    np.save(cache, vectors)
    return vectors


@pytest.fixture(scope="session")
def cranfield_index(bi_encoder, cranfield_docs, cranfield_vectors):  # type: ignore[no-untyped-def]
    """An exact (flat) index over all of Cranfield with the real bi-encoder. Do not mutate."""
    from shortlist.index import Index

    index = Index(bi_encoder)
    index.add(cranfield_docs, embeddings=cranfield_vectors)
    return index
