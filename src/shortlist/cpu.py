"""What this CPU is, as far as int8 speed and int8 results depend on it.

int8 kernels differ by CPU kind: with AVX-512 VNNI (or AMX) an int8 GEMM multiplies
u8 x s8 without saturating and is several times faster than float32; AVX2-only CPUs use
``vpmaddubsw``, which saturates at int16 and rounds differently. Benchmarks, the test
suite's header and ``shortlist doctor`` name the kind, so a figure or a failure says which
machine it came from.
"""

from __future__ import annotations

import platform
from pathlib import Path

INT8_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
"""The vector extensions int8 speed and rounding depend on, in the order they are printed."""


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; the platform's guess elsewhere)."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags() -> str:
    """The int8-relevant vector extensions present, e.g. ``"avx2, avx512f, avx512_vnni"``."""
    line = _cpuinfo_field("flags")
    if line is None:
        return "CPU flags unknown"
    flags = set(line.split())
    return ", ".join(f for f in INT8_FLAGS if f in flags) or "no AVX2"


def int8_kind() -> str:
    """``"vnni"`` where int8 GEMMs run on VNNI/AMX instructions, ``"avx2"`` where they run
    on the saturating AVX2 path, ``"unknown"`` where the flags cannot be read."""
    flags = cpu_flags()
    if flags == "CPU flags unknown":
        return "unknown"
    if any(f in flags for f in ("avx512_vnni", "avx_vnni", "amx_int8")):
        return "vnni"
    return "avx2"
