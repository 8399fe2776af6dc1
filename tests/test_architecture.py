"""Architecture rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import TypeGuard

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


# ---------------------------------------------------------------- layers
LAYERS: list[set[str]] = [
    {"errors", "_version", "_executor", "_quiet", "_lazy", "cpu", "defaults"},
    {"_optional", "_plugins", "documents", "models", "spec", "plan"},
    {"_validate", "loaders", "onnx_export", "_onnxruntime"},
    {"doctor"},  # reports what the ONNX sessions will run (_onnxruntime.fusions_for)
    {"encoders", "rerank"},
    {"index", "funnel"},
    {"pipeline", "_adapters"},
    {"_retrieve"},
    {"evaluation", "scale"},
    {"tuning", "langchain", "llama_index"},
    {"serve"},  # below cli, which registers its command (parts side by side stay apart)
    {"cli", ""},  # "": the package's own __init__, the public facade
]
"""The one statement of shortlist's layering, bottom first.

A part is a top-level module or subpackage of ``shortlist``. It may import from parts in
lower layers and from itself, never from a higher layer nor from another part of its own
layer (parts side by side stay independent: the encoders never borrow the rerankers'
internals, evaluation never reaches into Ray). Ray plugs into the index and the reranker
registry from above through entry points (:mod:`shortlist._plugins`), not by being named
below. A new module must be placed here."""

LAYER = {part: n for n, parts in enumerate(LAYERS) for part in parts}


def _module_name(path: Path) -> str:
    parts = ("shortlist", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def _target(name: str) -> str:
    """The shortlist module an imported name lives in (the longest known prefix)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _is_type_checking(node: ast.AST) -> TypeGuard[ast.If]:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _edges(module: str, *, at_import_only: bool = False) -> list[tuple[str, int, str]]:
    """``(imported module, line, statement)`` for every shortlist import in ``module``:
    module level, inside functions and under ``TYPE_CHECKING`` alike (``at_import_only``:
    only what runs when the module is imported)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, int, str]] = []

    def visit(node: ast.AST) -> None:
        if at_import_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return
        if at_import_only and _is_type_checking(node):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [f"{base}.{name}" for name in names]
            ours = {_target(n) for n in names if n == "shortlist" or n.startswith("shortlist.")}
            out.extend((t, node.lineno, ast.unparse(node)) for t in sorted(ours))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return out


GRAPH = {m: _edges(m) for m in MODULES}


def test_every_module_has_a_layer() -> None:
    unplaced = sorted({_part(m) for m in MODULES} - set(LAYER))
    assert unplaced == [], f"Place these parts of shortlist in LAYERS: {unplaced}"


def test_imports_point_down() -> None:
    """Type-only imports count too: a reader follows them like any other, and a type that
    belongs to a higher layer is a sign the code sits in the wrong place."""
    upward = []
    for module, edges in GRAPH.items():
        for target, line, statement in edges:
            mine, theirs = _part(module), _part(target)
            if mine != theirs and LAYER[theirs] >= LAYER[mine]:
                where = "its own layer" if LAYER[theirs] == LAYER[mine] else "a higher layer"
                upward.append(
                    f"{MODULES[module].relative_to(SRC.parent)}:{line}: "
                    f"`{statement}` reaches {where} ({theirs or 'shortlist'})"
                )
    assert upward == [], "Imports that run back up:\n" + "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def test_the_import_graph_has_no_cycles() -> None:
    """Function-level and type-only imports included: a cycle deferred into a function
    body still means neither module can be read (or moved) without the other."""
    graph = {m: {t for t, _, _ in edges if t != m} for m, edges in GRAPH.items()}
    cycles = _cycles(graph)
    report = [
        " <-> ".join(c)
        + "".join(
            f"\n    {MODULES[m].relative_to(SRC.parent)}:{line}: {stmt}"
            for m in c
            for t, line, stmt in GRAPH[m]
            if t in c and t != m
        )
        for c in cycles
    ]
    assert cycles == [], "Import cycles:\n" + "\n".join(report)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", ["shortlist.langchain.rerank", "shortlist.llama_index.rerank"])
def test_a_rerank_only_adapter_never_imports_the_index(module: str) -> None:
    """What importing the adapter runs (parent packages included; not function bodies,
    not ``TYPE_CHECKING``) never reaches shortlist.index, so reranking alone does not pay
    for FAISS and BM25 (tests/adapters checks the same on a live interpreter)."""
    via: dict[str, str] = {}
    todo = [module]
    while todo:
        current = todo.pop()
        parents = [current.rsplit(".", n)[0] for n in range(1, current.count("."))]
        for nxt in parents + [t for t, _, _ in _edges(current, at_import_only=True)]:
            if nxt not in via and nxt != module:
                via[nxt] = current
                todo.append(nxt)
    reached = sorted(m for m in via if _part(m) == "index")
    chains = []
    for target in reached:
        chain = [target]
        while chain[-1] != module:
            chain.append(via[chain[-1]])
        chains.append(" <- ".join(chain))
    assert reached == [], "\n".join(chains)


def test_ray_plugs_in_from_above() -> None:
    """The index and the reranker registry find Ray's placement and backend through the
    entry points shortlist.scale declares, without importing it until one is used."""
    code = (
        "import json, sys; from shortlist.rerank import BACKENDS; "
        "from shortlist.index.shards import SHARD_BACKENDS; "
        "print(json.dumps([BACKENDS['ray'], SHARD_BACKENDS['ray'], "
        "'shortlist.scale' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [
        "shortlist.scale.serve:RayServeReranker",
        "shortlist.scale.actors:RayShards",
        False,
    ]


def test_import_shortlist_pulls_in_nothing_heavy() -> None:
    code = (
        "import json, sys, shortlist; "
        "heavy = ['torch', 'faiss', 'onnxruntime', 'cohere', 'sentence_transformers', "
        "'langchain_core', 'llama_index', 'ray', 'starlette', 'uvicorn']; "
        "from shortlist.index import ShardedIndex; from shortlist import Pipeline; "
        "import shortlist.serve, shortlist.cli; "
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
        "Document", "Encoder", "EncoderMismatchError", "ExportParityError", "FUSED_SCORE_KEY",
        "Funnel", "Fusion", "Hit",
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
        "export_reranker", "load_reranker",
    },
    "shortlist.index": {
        "BaseIndex", "Bm25", "Filter", "Index", "IndexSpec", "ShardedIndex", "load_index",
    },
    "shortlist.encoders": {
        "DEFAULT_EMBEDDER", "Encoder", "OnnxEncoder", "SentenceTransformerEncoder",
        "check_encoder", "export_encoder", "load_encoder",
    },
    "shortlist.evaluation": {
        "Calibration", "Dataset", "FunnelVerdict", "Latency", "Report", "Row", "Verdict",
        "calibrate", "evaluate", "format_table",
        "index_dataset", "load_beir", "mean_scores", "ndcg", "per_query", "recall",
        "reciprocal_rank", "write_report",
    },
    "shortlist.langchain": {
        "FUSED_SCORE_KEY", "LangChainEmbeddingsEncoder", "ShortlistRerank",
        "ShortlistRetriever", "ShortlistVectorStore",
    },
    "shortlist.llama_index": {"ShortlistRerank", "ShortlistRetriever", "to_shortlist_filter"},
    "shortlist.serve": {
        "BackgroundServer", "Limits", "ServeConfig", "create_app", "load_api_keys", "run",
    },
    "shortlist.tuning": {
        "Judged", "Split", "TrainSettings", "TrainingData", "TuneResult", "Window",
        "export_onnx", "load_training_data", "split_queries", "tune",
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
