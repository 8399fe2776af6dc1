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

BLOCK_TORCH = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = ("torch", "transformers", "sentence_transformers")

    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
            return None

    sys.meta_path.insert(0, NotInstalled())
    """
)
"""Makes torch, transformers and sentence-transformers unimportable, as if not installed."""

SCRIPT = BLOCK_TORCH + textwrap.dedent(
    """
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


FUNNEL = BLOCK_TORCH + textwrap.dedent(
    """
    import shortlist as sl
    from shortlist.index import load_index

    index = load_index(sys.argv[1], encoder="onnx:" + sys.argv[2])
    pipe = sl.Pipeline(index, sl.load_reranker("onnx:" + sys.argv[3]))
    hits = pipe.search("boundary layer transition on a flat plate", top_n=3)
    assert not any(m.split(".")[0] in BLOCKED for m in sys.modules), sorted(sys.modules)
    print(" ".join(h.id for h in hits))
    """
)


def test_funnel_from_text_without_torch(
    cranfield_index, encoder_exports, onnx_model_path: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A torch-built index, queried through the ONNX export of its bi-encoder and reranked
    by the ONNX cross-encoder, with torch unimportable: the whole query path."""
    folder = cranfield_index.save(tmp_path / "index")
    args = [str(folder), str(encoder_exports["int8"]), str(onnx_model_path)]
    done = subprocess.run(
        [sys.executable, "-c", FUNNEL, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(done.stdout.split()) == 3
