"""Architecture rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import shortlist

SRC = Path(shortlist.__file__).parent
ADAPTERS = {"langchain", "llama_index"}
FRAMEWORKS = ("langchain", "langchain_core", "llama_index")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_import_shortlist_pulls_in_nothing_heavy() -> None:
    code = (
        "import json, sys, shortlist; "
        "heavy = ['torch', 'faiss', 'onnxruntime', 'cohere', 'sentence_transformers', "
        "'langchain_core', 'llama_index', 'ray']; "
        "from shortlist.index import ShardedIndex; from shortlist import Pipeline; "
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_core_never_imports_a_framework() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] in ADAPTERS:
            continue
        for name in _imports(path):
            if name.split(".")[0] in FRAMEWORKS:
                offenders.append(f"{rel}: {name}")
    assert offenders == []


def test_adapters_do_not_import_each_other() -> None:
    for adapter in ADAPTERS:
        other = (ADAPTERS - {adapter}).pop()
        for path in (SRC / adapter).rglob("*.py"):
            assert not any(n.startswith(f"shortlist.{other}") for n in _imports(path)), path


def test_no_pickle_anywhere_in_the_package() -> None:
    for path in SRC.rglob("*.py"):
        names = _imports(path)
        assert not names & {"pickle", "cloudpickle", "dill", "joblib"}, path


PUBLIC = {
    "shortlist": {
        "AuthenticationError", "BM25_SCORE_KEY", "Bm25", "DENSE_SCORE_KEY", "Dataset",
        "Document", "Encoder", "EncoderMismatchError", "FUSED_SCORE_KEY", "Funnel", "Fusion", "Hit",
        "Index", "IndexFormatError", "IndexWriteError", "InvalidInputError",
        "MissingDependencyError", "ModelNotFoundError", "Pipeline", "RELEVANCE_SCORE_KEY",
        "RETRIEVAL_RANK_KEY", "RETRIEVAL_SCORE_KEY", "SCORED_BY_KEY", "RateLimitError",
        "RerankResult", "Reranker", "RerankerAPIError", "RerankerRequestError",
        "RerankerTimeoutError", "SentenceTransformerEncoder", "ShortlistError",
        "TrainingDataError", "UnknownBackendError", "UnsafeModelError", "__version__",
        "evaluate", "load_beir", "load_documents", "load_encoder", "load_reranker",
    },
    "shortlist.rerank": {
        "BACKENDS", "CohereReranker", "CrossEncoderReranker", "FallbackReranker",
        "OnnxReranker", "RerankResult", "Reranker", "as_reranker", "check_reranker",
        "load_reranker",
    },
    "shortlist.index": {
        "BaseIndex", "Bm25", "Filter", "Index", "IndexSpec", "ShardedIndex", "load_index",
    },
    "shortlist.encoders": {
        "DEFAULT_EMBEDDER", "Encoder", "OnnxEncoder", "SentenceTransformerEncoder",
        "check_encoder", "export_encoder", "l2_normalize", "load_encoder",
    },
    "shortlist.evaluation": {
        "Calibration", "Dataset", "FunnelVerdict", "Latency", "Report", "Row", "Verdict",
        "calibrate", "evaluate", "format_table",
        "index_dataset", "load_beir", "mean_scores", "ndcg", "per_query", "plot", "recall",
        "reciprocal_rank", "to_markdown", "write_report",
    },
    "shortlist.langchain": {
        "FUSED_SCORE_KEY", "LangChainEmbeddingsEncoder", "ShortlistRerank",
        "ShortlistRetriever", "ShortlistVectorStore",
    },
    "shortlist.llama_index": {"ShortlistRerank", "ShortlistRetriever", "to_shortlist_filter"},
    "shortlist.tuning": {
        "Judged", "Split", "TrainSettings", "TrainingData", "TuneResult", "Window",
        "check_export", "export_onnx", "load_training_data", "mine_negatives", "split_queries",
        "training_pairs", "tune",
    },
}  # fmt: skip
"""The public names, exactly: adding or dropping one is an API change made on purpose."""


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_api_is_pinned_and_resolves(module: str) -> None:
    mod = importlib.import_module(module)
    assert set(mod.__all__) == PUBLIC[module]
    assert len(mod.__all__) == len(set(mod.__all__))
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def test_typed_marker_ships() -> None:
    assert (SRC / "py.typed").is_file()
