"""Architecture rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

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
        "'langchain_core', 'llama_index']; "
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


def test_public_api_is_pinned_and_resolves() -> None:
    assert set(shortlist.__all__) >= {
        "Document", "Hit", "Index", "Pipeline", "Reranker", "RerankResult", "load_reranker",
        "evaluate", "load_beir", "ShortlistError", "InvalidInputError", "__version__",
    }  # fmt: skip
    for name in shortlist.__all__:
        assert getattr(shortlist, name) is not None, name


def test_typed_marker_ships() -> None:
    assert (SRC / "py.typed").is_file()
