"""Render docs/results/modes.md: the evidence behind the funnel's defaults.

Reads the ``shortlist eval --mode ...`` reports in docs/results/modes-<collection>/ (each
row with its per-query nDCG@10) and writes one table over every setting -- stage-1 mode,
N, and what stage 2 does -- across the collections, then chooses the default as a user
would: **one setting for every collection**, among those that rerank, with the smallest
worst-case regret (the shortfall against the best setting found on each collection; ties
go to the higher mean). Because the defaults are also judged on collections nobody here
has, the rule is checked leave-one-collection-out: chosen on the others, what does it lose
on the one left out? Finally the chosen setting is compared, per collection, with every
stage-1 row by a paired bootstrap over queries.

    python -m benchmarks.modes --run       # the eval runs (minutes each, one at a time)
    python -m benchmarks.modes             # re-render from the committed reports
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from shortlist.evaluation.stats import paired
from shortlist.funnel import DEFAULT
from shortlist.rerank.fusion import Fusion

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
COLLECTIONS = ("cranfield", "cisi", "medline")
GRID = [
    "-n", "20,50,100", "-m", "10",
    "--fusion", "rrf", "weighted:w=0.2", "weighted:w=0.35", "weighted:w=0.5",
    "--mode", "dense,bm25,hybrid:rrf,hybrid:alpha=0.3,hybrid:alpha=0.5,hybrid:alpha=0.7",
]  # fmt: skip
"""The settings compared: 6 stage-1 modes x 3 N x (stage 1, rerank, 4 fusions)."""

CPU_OF_THE_RUNS = "an Intel Xeon, 2 cores, avx2, avx512f, avx512_vnni, avx_vnni, amx_int8"
"""The machine the committed reports were measured on (``shortlist eval`` records it in
each report's settings since)."""


def eval_command(collection: str) -> list[str]:
    """The ``shortlist eval`` run behind one collection's report (paths as docs print them)."""
    return [
        "shortlist", "eval", f"../shared/datasets/{collection}",
        "--embedder", "../shared/models/all-MiniLM-L6-v2",
        "--reranker", "onnx:../shared/models/ms-marco-MiniLM-L-12-v2-onnx-int8",
        *GRID, "--out", f"docs/results/modes-{collection}", "-q",
    ]  # fmt: skip


def _mode(mode: str) -> str:
    """One name per stage 1: ``hybrid:alpha=0.5`` and ``hybrid:weighted:w=0.5`` alike."""
    if mode.startswith("hybrid:alpha="):
        return f"hybrid:{Fusion('weighted', weight=float(mode.split('=', 1)[1]))}"
    if mode.startswith("hybrid:"):
        parsed = Fusion.parse(mode.split(":", 1)[1])
        return f"hybrid:{parsed}"
    return mode


def _config(row: dict[str, Any]) -> str:
    """A funnel setting, independent of the collection: mode, N, reranker, fusion."""
    stage2 = "stage 1 only" if row["reranker"] is None else "rerank"
    if row["fusion"]:
        stage2 += f" + {row['fusion']}"
    return f"{_mode(row['mode'])} · N={row['n']} · {stage2}"


def shipped_config() -> str:
    """The setting :data:`shortlist.funnel.DEFAULT` ships, named as :func:`_config` names
    rows (its ``fusion="auto"`` resolved for the local cross-encoder it ships with)."""
    from shortlist import defaults

    mode = DEFAULT.mode if DEFAULT.mode != "hybrid" else f"hybrid:{DEFAULT.hybrid}"
    fusion = Fusion.parse(defaults.FUSION) if DEFAULT.fusion == "auto" else None
    return _config(
        {"mode": mode, "n": DEFAULT.fetch_k, "reranker": "any", "fusion": fusion and str(fusion)}
    )


def load(collection: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(
        (RESULTS / f"modes-{collection}" / "report.json").read_text(encoding="utf-8")
    )
    return report


def _choose(
    scores: dict[str, dict[str, float]], collections: list[str], among: list[str]
) -> tuple[str, dict[str, float]]:
    """The setting in ``among`` with the smallest worst-case regret over ``collections``."""
    best = {c: max(scores[k][c] for k in scores) for c in collections}
    worst = {k: max(best[c] - scores[k][c] for c in collections) for k in among}
    chosen = min(among, key=lambda k: (round(worst[k], 4), -sum(scores[k][c] for c in collections)))
    return chosen, worst


def render(collections: list[str]) -> str:
    reports = {c: load(c) for c in collections}
    scores: dict[str, dict[str, float]] = {}
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    for c, report in reports.items():
        for row in report["rows"]:
            key = _config(row)
            scores.setdefault(key, {})[c] = row["ndcg"]
            per_query.setdefault(key, {})[c] = row.get("per_query_ndcg", {})
    complete = {k: v for k, v in scores.items() if set(v) == set(collections)}
    reranking = [k for k in complete if "rerank" in k]
    overall, worst_all = _choose(complete, collections, list(complete))
    chosen, worst = _choose(complete, collections, reranking)
    shipped = shipped_config()
    stage1_rows = _stage1_rows(complete, chosen)

    out = [
        "# Choosing the funnel's defaults: stage-1 mode, N and fusion",
        "",
        "Generated by `python -m benchmarks.modes` from the reports of these commands "
        f"(int8 ONNX reranker; run on {CPU_OF_THE_RUNS}: int8 rounding differs by CPU kind, so "
        "another CPU may move a near-tied hit, not these conclusions):",
        "",
        "```",
        *(" ".join(eval_command(c)) for c in collections),
        "```",
        "",
        "nDCG@10 over all queries of each collection, for every funnel setting that was run "
        "(one setting for all collections, as a user would pick; collections not shown here "
        "judge the choice too). *regret* is the setting's worst shortfall against the best "
        "setting found on each collection; the 30 best by it:",
        "",
        "| setting (mode, N, stage 2) | " + " | ".join(collections) + " | regret |",
        "|---|" + "---:|" * (len(collections) + 1),
    ]
    ranked = sorted(complete, key=lambda k: (worst_all[k], -sum(complete[k].values())))
    for key in ranked[:30]:
        cells = [f"{complete[key][c]:.4f}" for c in collections]
        mark = "**" if key == chosen else ""
        out.append(f"| {mark}{key}{mark} | " + " | ".join(cells) + f" | {worst_all[key]:.4f} |")
    out += [
        "",
        f"Settings compared: {len(complete)}. Best overall by worst-case regret: {overall} "
        f"({worst_all[overall]:.4f}).",
        "",
        f"**The default, by this rule among the settings that rerank: {chosen}** (regret "
        f"{worst[chosen]:.4f}).",
        "",
        f"Shipped (`shortlist.funnel.DEFAULT`): {shipped} -- "
        + (
            ("the chosen one." if shipped == chosen else "NOT the chosen one.")
            if shipped in complete
            else "not measured here."
        ),
        "",
        "## Leave one collection out",
        "",
        "The rule chooses on the other collections; its choice is scored on the one left out "
        "(regret against the best setting found there).",
        "",
        "| left out | chosen on the others | its regret there | "
        "the chosen default's regret there |",
        "|---|---|---:|---:|",
    ]
    for held in collections:
        others = [c for c in collections if c != held]
        pick, _ = _choose(complete, others, reranking)
        best_held = max(complete[k][held] for k in complete)
        out.append(
            f"| {held} | {pick} | {best_held - complete[pick][held]:.4f} | "
            f"{best_held - complete[chosen][held]:.4f} |"
        )
    out += [
        "",
        "## The default against stage 1 alone",
        "",
        "Mean nDCG@10 difference (default minus the stage-1 row at the same N), 95 % paired "
        "bootstrap interval over the collection's queries, and queries better / worse:",
        "",
        "| collection | " + " | ".join(stage1_rows) + " |",
        "|---|" + "---|" * len(stage1_rows),
    ]
    for c in collections:
        cells = []
        for key in stage1_rows:
            d = paired(per_query[chosen][c], per_query[key][c])
            cells.append(f"{d.interval()} ({d.better}/{d.worse})")
        out.append(f"| {c} ({len(per_query[chosen][c])} q) | " + " | ".join(cells) + " |")
    out += [
        "",
        "An interval above zero: the default beats that stage 1 there; straddling zero: "
        "the collection cannot tell them apart.",
        "",
    ]
    return "\n".join(out) + "\n"


def _stage1_rows(scores: dict[str, dict[str, float]], chosen: str) -> list[str]:
    """The stage-1-only settings at the chosen setting's N."""
    n = chosen.split(" · ")[1]
    return [k for k in scores if k.endswith("stage 1 only") and f" · {n} · " in k]


def run(collections: list[str]) -> None:
    """The eval runs behind the reports, one at a time (each embeds its corpus once)."""
    root = RESULTS.parents[1]
    for c in collections:
        print(" ".join(eval_command(c)), file=sys.stderr, flush=True)
        subprocess.run(eval_command(c), cwd=root, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--collections", default=",".join(COLLECTIONS))
    parser.add_argument("--out", default=str(RESULTS / "modes.md"))
    parser.add_argument("--run", action="store_true", help="run the evaluations first")
    args = parser.parse_args()
    collections = args.collections.split(",")
    if args.run:
        run(collections)
    text = render(collections)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
