"""ONNX Runtime sessions as shortlist runs them, for the ONNX encoder and the ONNX reranker.

Both parallelise *across* ``session.run`` calls, not inside one: each run uses one thread
(the caller's) and ``threads`` runs go at once (ORT's ``run`` is thread-safe and releases
the GIL). On small transformer graphs ORT's own intra-op threads spin and wait at every
operator barrier for more than the per-operator work gains. Kept below both packages so
that neither borrows the other's internals; onnxruntime itself is passed in by the caller
(imported lazily there), so importing this module imports nothing heavy.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shortlist.cpu import int8_kind
from shortlist.errors import InvalidInputError

SKIP_LAYER_NORM = "SkipLayerNormFusion"
FUSIONS = ("auto", "all", "no-skip-layer-norm")
"""What a cross-encoder session fuses: ``all`` of onnxruntime's fusions, all but
SkipLayerNormalization, or ``auto``: chosen by the CPU kind (:func:`fusions_for`)."""


def fusions_for(fusions: str, kind: str | None = None) -> str:
    """The fusion set a cross-encoder session runs with on this CPU (``kind``: an
    :func:`~shortlist.cpu.int8_kind`, this machine's by default).

    Measured on the fixed workload (docs/results/serving/candidates/): on an AVX-512
    VNNI/AMX CPU the fused SkipLayerNormalization kernel costs ~9x an unfused
    LayerNormalization of the same shape, so leaving that one fusion out scores 100 pairs
    in 0.87x the time with the same rankings. Not measured on an AVX2-only CPU, where the
    int8 GEMMs dominate: ``auto`` keeps onnxruntime's defaults there.
    """
    if fusions not in FUSIONS:
        raise InvalidInputError(f"fusions must be one of {', '.join(FUSIONS)}; got {fusions!r}.")
    if fusions != "auto":
        return fusions
    return "no-skip-layer-norm" if (kind or int8_kind()) == "vnni" else "all"


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads share one core's units).

    onnxruntime's GEMMs gain nothing from a second hyper-thread on the same core and lose
    to the contention, so the default thread count is one per physical core.
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores: set[str] = set()
    for cpu in cpus:
        try:
            siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
            cores.add(siblings.read_text().strip())
        except OSError:
            return max(1, len(cpus))
    return max(1, len(cores))


def single_threaded_session(
    ort: Any,
    graph: str | bytes,
    name: str,
    providers: Sequence[str] | None = None,
    fusions: str = "all",
) -> Any:
    """An onnxruntime session whose every ``run`` uses one thread (the caller's).

    ``name`` is the graph's file, for the error when onnxruntime cannot load it;
    ``fusions`` one of :data:`FUSIONS` but ``auto`` (see :func:`fusions_for`).
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(
            graph,
            sess_options=options,
            providers=list(providers) if providers else ["CPUExecutionProvider"],
            disabled_optimizers=[SKIP_LAYER_NORM] if fusions == "no-skip-layer-norm" else None,
        )
    except Exception as exc:  # onnxruntime raises its own untyped Fail/InvalidGraph
        raise InvalidInputError(f"{name} could not be loaded by onnxruntime: {exc}") from exc
