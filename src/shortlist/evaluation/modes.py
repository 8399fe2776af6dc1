"""A stage-1 mode as ``evaluate`` measures it: ``"hybrid:alpha=0.5"`` -> ("hybrid", 0.5)."""

from __future__ import annotations

from dataclasses import dataclass

from shortlist.funnel import parse_stage1
from shortlist.rerank.fusion import Fusion


@dataclass(frozen=True)
class Mode:
    """A stage-1 mode as evaluated, named as the user wrote it."""

    name: str
    mode: str
    hybrid: Fusion | None  # None: the index's own

    @classmethod
    def parse(cls, spec: str) -> Mode:
        """``dense``, ``bm25``, ``hybrid`` (the index's fusion), ``hybrid:alpha=0.5``, or
        ``hybrid:`` + a fusion spec (``hybrid:rrf``, ``hybrid:weighted:w=0.3``)."""
        mode, hybrid = parse_stage1(spec)
        return cls(spec.strip(), mode, hybrid)


def row_name(name: str, md: Mode, modes: list[Mode]) -> str:
    """Row names carry the mode only when a report compares several."""
    return f"{name} ({md.name})" if len(modes) > 1 else name
