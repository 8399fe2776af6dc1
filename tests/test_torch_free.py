"""The ONNX and Cohere rerank paths need neither torch nor sentence-transformers.

A fresh interpreter refuses to import torch, transformers and sentence-transformers (as
if they were not installed), then reranks with the int8 ONNX model and with Cohere (the
real SDK over HTTP to the local fake server). If any code on those paths imported one of
them, even lazily, the script fails with ModuleNotFoundError.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO
from tests.fakes.cohere_server import FakeCohere

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = ("torch", "transformers", "sentence_transformers")

    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
            return None

    sys.meta_path.insert(0, NotInstalled())

    import shortlist as sl

    texts = ["boundary layer transition on a flat plate", "propeller noise", "wing flutter"]
    onnx = sl.load_reranker("onnx:" + sys.argv[1])
    best = onnx.rerank("when does a boundary layer become turbulent?", texts, top_n=1)
    cohere = sl.load_reranker("cohere:rerank-v3.5", api_key=sys.argv[3], base_url=sys.argv[2])
    top = cohere.rerank("boundary layer transition", texts, top_n=1)
    assert not any(m.split(".")[0] in BLOCKED for m in sys.modules), sorted(sys.modules)
    print(best[0].index, top[0].index)
    """
)


def test_onnx_and_cohere_rerank_without_torch(onnx_model_path: Path) -> None:
    with FakeCohere() as server:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(onnx_model_path), server.url, server.api_key],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["0", "0"]
