"""``shortlist doctor``: what is installed, and whether it suits this machine.

The costly install mistake is a CUDA build of PyTorch on a machine without an NVIDIA GPU.
PyPI's default ``torch`` wheel on Linux is the CUDA one: it pulls about 3 GB of
``nvidia-*`` packages that can never run there (a 6.5 GB virtualenv instead of about
2 GB). pip gives no sign of it, so this check does, with the command that fixes it.

The rest is a report: versions, which extras are installed, and the package facts a bug
report needs. Nothing here loads a model; only ``torch`` is imported (to ask it about its
build), and the extras are read from the installed package's metadata.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata as metadata
import os
import re
import sys
from dataclasses import dataclass

from shortlist._onnxruntime import fusions_for
from shortlist._version import __version__
from shortlist.cpu import cpu_flags, cpu_model, int8_kind

CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
"""PyTorch's own index of CPU-only wheels."""

REINSTALL_CPU_TORCH = (
    f"pip uninstall -y torch && pip install torch --index-url {CPU_TORCH_INDEX}"
    " && pip list --format=freeze | grep -iE '^(nvidia-|triton)' | cut -d= -f1"
    " | xargs -r pip uninstall -y"
)
"""Swap a CUDA torch for the CPU build and drop the NVIDIA packages it pulled in."""


@dataclass(frozen=True)
class TorchFacts:
    """What torch says about its build and the machine (``version`` None: not installed)."""

    version: str | None
    cuda: str | None  # CUDA version the wheel was built for; None for a CPU build
    gpu: bool  # a CUDA device is usable right now


def torch_facts() -> TorchFacts:
    """Import torch (about 2 s) and ask it; never raises."""
    try:
        metadata.version("torch")
    except metadata.PackageNotFoundError:
        return TorchFacts(None, None, False)
    torch = importlib.import_module("torch")
    cuda = getattr(torch.version, "cuda", None)
    return TorchFacts(str(torch.__version__), cuda, bool(cuda) and torch.cuda.is_available())


def torch_problem(facts: TorchFacts) -> str | None:
    """A CUDA build where no CUDA GPU is usable: the message says what it costs and the fix."""
    if facts.version is None or not facts.cuda or facts.gpu:
        return None
    size = nvidia_bytes()
    weight = f" ({size / 1e9:.1f} GB of NVIDIA packages installed)" if size else ""
    return (
        f"torch {facts.version} is a CUDA {facts.cuda} build, but no CUDA GPU is usable "
        f"here{weight}: everything runs on the CPU anyway. To get the ~2 GB CPU-only "
        f"install, run: {REINSTALL_CPU_TORCH}"
    )


def nvidia_bytes() -> int:
    """Disk used by installed ``nvidia-*`` and ``triton`` distributions (what CUDA torch adds)."""
    total = 0
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if not (name.startswith("nvidia-") or name == "triton"):
            continue
        for file in dist.files or []:
            with contextlib.suppress(OSError):  # listed in RECORD but gone
                total += os.stat(str(file.locate())).st_size
    return total


def extras() -> dict[str, dict[str, str | None]]:
    """Each extra of the installed ``shortlist`` -> {requirement: installed version or None}.

    Read from the package metadata, so it always matches ``pyproject.toml``; empty when
    shortlist runs from a source tree without being installed.
    """
    try:
        requires = metadata.requires("shortlist") or []
    except metadata.PackageNotFoundError:
        return {}
    found: dict[str, dict[str, str | None]] = {}
    for req in requires:
        marker = re.search(r"""extra\s*==\s*["']([^"']+)["']""", req)
        name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if marker is None or name is None or name.group(1).lower() == "shortlist":
            continue
        found.setdefault(marker.group(1), {})[name.group(1)] = _installed(name.group(1))
    return found


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def cpu_line() -> str:
    """The CPU kind int8 speed and results depend on, and the reranker graph it runs."""
    kind, fusions = int8_kind(), fusions_for("auto")
    graph = {
        "all": "onnxruntime's fusions, all of them",
        "no-skip-layer-norm": "all onnxruntime fusions but SkipLayerNormalization",
    }[fusions]
    return (
        f"CPU: {cpu_model()} ({cpu_flags()}); int8 kind {kind}: the onnx reranker runs its "
        f"int8 graph with {graph} (fusions={fusions})"
    )


def report() -> tuple[list[str], list[str]]:
    """(report lines, problems). Problems are what ``shortlist doctor`` exits 1 for."""
    lines = [f"shortlist {__version__}, Python {sys.version.split()[0]} ({sys.prefix})"]
    problems: list[str] = []
    facts = torch_facts()
    if facts.version is None:
        problems.append("torch is not installed: run `pip install torch` (see README, Install).")
    else:
        build = f"CUDA {facts.cuda} build" if facts.cuda else "CPU build"
        device = "a CUDA GPU is usable" if facts.gpu else "no CUDA GPU"
        lines.append(f"torch {facts.version}: {build}, {device}")
        problem = torch_problem(facts)
        if problem:
            problems.append(problem)
    for dist in ("faiss-cpu", "faiss-gpu-cu12", "sentence-transformers", "onnxruntime", "cohere"):
        version = _installed(dist)
        if version is not None:
            lines.append(f"{dist} {version}")
    lines.append(cpu_line())
    for extra, reqs in sorted(extras().items()):
        missing = sorted(name for name, version in reqs.items() if version is None)
        if not missing:
            state = "installed"
        elif len(missing) == len(reqs):
            state = "not installed"
        else:
            state = f"partly installed, missing {', '.join(missing)}"
        lines.append(f"extra [{extra}]: {state}")
    return lines, problems
