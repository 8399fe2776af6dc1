"""The one place where optional imports happen, so a missing package fails loudly and helpfully.

Heavy or optional modules (torch, faiss, onnxruntime, cohere, the frameworks) are imported
lazily through :func:`require`; ``import shortlist`` stays fast and dependency-light.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from shortlist.errors import MissingDependencyError

# module -> pip requirement that provides it
_PROVIDERS = {
    "faiss": "faiss-cpu",
    "sentence_transformers": "sentence-transformers",
    "torch": "torch",
    "onnxruntime": "onnxruntime",
    "tokenizers": "tokenizers",
    "cohere": "cohere",
    "langchain_core": "langchain-core",
    "llama_index.core": "llama-index-core",
    "tqdm": "tqdm",
    "bm25s": "bm25s",
    "Stemmer": "PyStemmer",
    "ray": "ray[data,serve]",
    "ray.data": "ray[data,serve]",
    "ray.serve": "ray[data,serve]",
}


def require(module: str, *, feature: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the pip command."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = _PROVIDERS.get(module, module.split(".")[0])
        hint = f"pip install {package}"
        if extra:  # the extra also brings the package's companions (e.g. langchain-classic)
            hint = f"pip install 'shortlist[{extra}]' (or just {hint})"
        raise MissingDependencyError(
            f"{feature} needs the '{package}' package, which is not installed. Run: {hint}"
        ) from exc
