"""The rerank adapters stand on their own: importing one loads neither the index nor FAISS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shortlist.langchain import ShortlistRerank as LCRerank
from shortlist.llama_index import ShortlistRerank as LIRerank


# ---------------------------------------------------------------------- imports
@pytest.mark.parametrize("module", ["shortlist.langchain.rerank", "shortlist.llama_index.rerank"])
def test_a_rerank_only_adapter_does_not_import_the_index(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in ('shortlist.index', 'shortlist.pipeline', 'faiss') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_package_names_still_resolve() -> None:
    import shortlist.langchain as lc
    import shortlist.llama_index as li

    assert lc.ShortlistRerank is LCRerank and li.ShortlistRerank is LIRerank
    assert set(lc.__all__) <= set(dir(lc)) and set(li.__all__) <= set(dir(li))
