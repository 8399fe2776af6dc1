"""Shared fixtures: locate ../shared (or $SHORTLIST_SHARED) and load real models once.

Under CI=true a missing shared asset is a failure, never a skip: CI must exercise the
real models and datasets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Tests never reach a model hub: every model comes from ../shared or an offline package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHORTLIST_SHARED", REPO.parent / "shared")).resolve()


def run_benchmark(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m benchmarks.<module> ARGS`` from the repo, as a user runs it (smoke tests)."""
    return subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=REPO,
        env={**os.environ, "SHORTLIST_SHARED": str(SHARED)},
        capture_output=True,
        text=True,
        timeout=600,
    )


MODELS = SHARED / "models"
DATASETS = SHARED / "datasets"

BI_ENCODER = MODELS / "all-MiniLM-L6-v2"
CROSS_ENCODER = MODELS / "ms-marco-MiniLM-L-12-v2"
CROSS_ENCODER_ONNX = MODELS / "ms-marco-MiniLM-L-12-v2-onnx-int8"


def pytest_report_header() -> list[str]:
    """Name the CPU in the suite's header: int8 results differ by CPU kind (VNNI or AVX2), so
    a failure must say which machine it came from."""
    from shortlist.cpu import cpu_flags, cpu_model, int8_kind

    return [f"cpu: {cpu_model()} ({cpu_flags()}; int8 kernels: {int8_kind()})"]


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


CACHE = Path(os.environ.get("SHORTLIST_TEST_CACHE", REPO / ".test-cache"))
"""Where computed corpus embeddings are kept between local runs (not pytest's cache, so
the suite also works with ``-p no:cacheprovider``)."""


@pytest.fixture(scope="session")
def cranfield_vectors(bi_encoder, cranfield_docs):  # type: ignore[no-untyped-def]
    """Embeddings of every Cranfield document, computed once (and cached between local runs).

    The cache key covers everything that decides the vectors: the model's files (their
    fingerprint), the corpus, the encoder's code and its options. CI starts from a clean
    clone and always computes them.
    """
    import hashlib
    import inspect

    import numpy as np

    from shortlist.encoders import sentence_transformers

    key = hashlib.sha256()
    key.update(str(bi_encoder.fingerprint).encode())
    key.update((dataset_dir() / "corpus.jsonl").read_bytes())
    key.update(inspect.getsource(sentence_transformers).encode())
    options = (bi_encoder.normalize, bi_encoder.query_prompt, bi_encoder.document_prompt)
    key.update(repr((options, bi_encoder.max_seq_length, 32)).encode())
    cache = CACHE / f"cranfield-{key.hexdigest()[:16]}.npy"
    if cache.exists():
        return np.load(cache)
    vectors = bi_encoder.encode_documents([d.text for d in cranfield_docs], batch_size=32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


@pytest.fixture(scope="session")
def cranfield_index(bi_encoder, cranfield_docs, cranfield_vectors):  # type: ignore[no-untyped-def]
    """An exact (flat) index over all of Cranfield with the real bi-encoder. Do not mutate."""
    from shortlist.index import Index

    index = Index(bi_encoder)
    index.add(cranfield_docs, embeddings=cranfield_vectors)
    return index


@pytest.fixture(scope="session")
def index(cranfield_index):  # type: ignore[no-untyped-def]
    """The shared read-only Cranfield index, for tests that only search it (built once per
    session instead of once per module). Do not mutate: build your own for writes."""
    return cranfield_index


@pytest.fixture(scope="session")
def encoder_exports(bi_encoder_path: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """all-MiniLM-L6-v2 exported: {"float32": dir, "int8": dir}; the float32 one through
    ``export_encoder``, the int8 one through the ``shortlist export-encoder`` command."""
    from shortlist.cli import main
    from shortlist.encoders import export_encoder

    root = tmp_path_factory.mktemp("encoder-exports")
    command = ["export-encoder", str(bi_encoder_path), "--out", str(root / "int8"), "--int8"]
    assert main(command) == 0
    return {"float32": export_encoder(bi_encoder_path, root / "float32"), "int8": root / "int8"}
