"""Figures in README's results table come from generated output, so they cannot drift.

Every decimal number in the table must be the rounding of a number in a file the
project's own commands wrote (docs/benchmarks.md and every .md under docs/results/). Editing a
figure by hand, or regenerating the files without updating the README, fails here.
"""

from __future__ import annotations

import itertools
import json
import re
from decimal import ROUND_HALF_UP, Decimal

from tests.conftest import REPO

_DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")


def _generated_numbers() -> set[Decimal]:
    """Numbers in the generated files; milliseconds also as seconds; and, per report, the
    largest nDCG gap between two systems over all N (how "within 0.0027" is derived)."""
    results = REPO / "docs" / "results"
    files = [
        REPO / "docs" / "benchmarks.md",
        *sorted(results.glob("**/*.md")),
    ]
    assert len(files) > 1, files
    found = {Decimal(n) for f in files for n in _DECIMAL.findall(f.read_text(encoding="utf-8"))}
    for f in (REPO / "docs" / "benchmarks.md",):
        found |= {Decimal(n) / 1000 for n in re.findall(r"\| (\d{3,6}) \|", f.read_text())}
    for report in (REPO / "docs" / "results").glob("*/report.json"):
        rows = json.loads(report.read_text())["rows"]
        by_system: dict[str, dict[int, float]] = {}
        for row in rows:
            by_system.setdefault(row["system"], {})[row["n"]] = row["ndcg"]
        for a, b in itertools.combinations(by_system.values(), 2):
            gaps = [abs(a[n] - b[n]) for n in a.keys() & b.keys()]
            if gaps:
                found.add(Decimal(repr(max(gaps))))
    return found


def _readme_table_figures() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## What it buys", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) > 3, "README's 'What it buys' table is missing"
    return [n for row in rows for n in _DECIMAL.findall(row)]


def _rounds_to(figure: str, numbers: set[Decimal]) -> bool:
    exp = Decimal(figure).as_tuple().exponent
    quantum = Decimal(1).scaleb(exp)  # type: ignore[arg-type]
    return any(n.quantize(quantum, rounding=ROUND_HALF_UP) == Decimal(figure) for n in numbers)


def test_readme_figures_come_from_generated_files() -> None:
    numbers = _generated_numbers()
    figures = _readme_table_figures()
    assert len(figures) >= 8
    missing = [f for f in figures if not _rounds_to(f, numbers)]
    assert missing == [], f"README figures not found in generated output: {missing}"
