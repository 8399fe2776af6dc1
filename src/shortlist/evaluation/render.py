"""Show a :class:`~shortlist.evaluation.report.Report`: terminal table, Markdown, PNG chart.

The terminal table and the Markdown table are built from the same cells, so they cannot
disagree. The chart uses matplotlib's object API on an Agg canvas (no pyplot, no global
backend switch), imported only when a chart is asked for.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from shortlist._optional import require
from shortlist.evaluation.results import STAGE1_ROW, Latency, Report, Row

CHART_FILE = "ndcg_vs_latency.png"
REPORT_FILE = "report.md"
JSON_FILE = "report.json"


def _lat(lat: Latency | None) -> str:
    return "-" if lat is None else f"{lat.p50_ms:.1f} / {lat.p95_ms:.1f}"


def _cells(report: Report) -> tuple[list[str], list[list[str]]]:
    k, m = report.k, report.m
    black_box = not report.n_values
    head = ["N", "system", f"nDCG@{k}", f"MRR@{k}", f"R@{m}"]
    head += [] if black_box else ["R@N"]
    head += ["latency p50/p95 ms"] if black_box else ["stage 1 p50/p95 ms", "stage 2 p50/p95 ms"]
    head.append("queries/s")
    rows = []
    for r in report.rows:
        cells = ["-" if r.n is None else str(r.n), r.system, f"{r.ndcg:.4f}", f"{r.mrr:.4f}"]
        cells.append(f"{r.recall_m:.4f}")
        if not black_box:
            cells.append("" if r.recall_n is None else f"{r.recall_n:.4f}")
        cells.append(_lat(r.stage1))
        if not black_box:
            cells.append(_lat(r.stage2))
        cells.append(f"{r.qps:.1f}")
        rows.append(cells)
    return head, rows


def text_table(
    head: list[str],
    rows: list[list[str]],
    *,
    text_columns: tuple[int, ...] = (1,),
    group_by: int | None = None,
) -> list[str]:
    """Aligned lines (header, rule, rows): text columns left, numbers right-aligned.

    With ``group_by``, a blank line separates rows whose value in that column changes.
    """
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        out = [
            c.ljust(w) if i in text_columns else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    lines = [line(head), "  ".join("-" * w for w in widths)]
    for i, cells in enumerate(rows):
        if group_by is not None and i and cells[group_by] != rows[i - 1][group_by]:
            lines.append("")
        lines.append(line(cells))
    return lines


def markdown_table(
    head: list[str], rows: list[list[str]], *, text_columns: tuple[int, ...] = (1,)
) -> list[str]:
    """The same table in Markdown, numbers right-aligned."""
    rule = "|" + "|".join("---" if i in text_columns else "---:" for i in range(len(head))) + "|"
    body = ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in rows]
    return ["| " + " | ".join(head) + " |", rule, *body]


def format_table(report: Report) -> str:
    """Plain aligned text: header, the table (grouped by N), the verdicts."""
    head, rows = _cells(report)
    lines = [report.description, "", *text_table(head, rows, group_by=0)]
    if report.verdicts:
        lines += ["", "Verdicts:"] + [f"  {v.text}" for v in report.verdicts]
    if report.best:
        lines += ["", report.best]
    if report.funnel is not None:
        lines += ["", "Verdict on the funnel:", f"  {report.funnel.text}"]
    return "\n".join(lines)


def to_markdown(report: Report, *, command: str | None = None, chart: str | None = None) -> str:
    """A Markdown report: what ran, the table, the verdicts, how to read it."""
    head, rows = _cells(report)
    out = [f"# Evaluation: {report.dataset}", "", report.description + "."]
    if command:
        out += ["", "```", command, "```"]
    settings = ", ".join(f"{k}: {_plain(v)}" for k, v in report.settings.items())
    out += ["", f"Settings: {settings}.", "", *markdown_table(head, rows)]
    if report.verdicts:
        out += ["", "## Verdicts", ""] + [f"- {v.text}" for v in report.verdicts]
    if report.best:
        out += ["", f"**{report.best}**"]
    if report.funnel is not None:
        out += ["", "## Verdict on the funnel", "", report.funnel.text]
    if chart:
        out += ["", f"![nDCG@{report.k} vs rerank latency]({chart})"]
    out += ["", "## How to read this", ""] + [f"- {n}" for n in report.notes]
    return "\n".join(out) + "\n"


def _plain(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def plot(report: Report, path: str | os.PathLike[str]) -> Path:
    """PNG of nDCG@k against stage-2 latency (p50): one line per reranker variant across N."""
    require("matplotlib", feature="The evaluation chart", extra="eval")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.5), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    stage1 = [r for r in report.rows if r.system == STAGE1_ROW]
    reranked = [s for s in report.systems if s != STAGE1_ROW]
    labels = list(dict.fromkeys(r.reranker for r in report.rows if r.reranker))
    colors = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    for system in reranked:
        rows = sorted((r for r in report.rows if r.system == system), key=lambda r: r.n or 0)
        xs = [r.stage2.p50_ms if r.stage2 else 0.0 for r in rows]
        ys = [r.ndcg for r in rows]
        fused = rows[0].fusion is not None
        ax.plot(
            xs,
            ys,
            marker="s" if fused else "o",
            linestyle="--" if fused else "-",
            color=colors.get(rows[0].reranker or "", "C0"),
            label=system,
        )
        offset = (6, -11) if fused else (-6, 6)  # plain and fused share x: label apart
        for r, x, y in zip(rows, xs, ys, strict=True):
            ax.annotate(
                f"N={r.n}",
                (x, y),
                textcoords="offset points",
                xytext=offset,
                fontsize=7,
                ha="left" if fused else "right",
            )
    _stage1_reference(ax, stage1, report.k)
    ax.set_xlabel("stage-2 (rerank) latency per query, p50 [ms]")
    ax.set_ylabel(f"nDCG@{report.k}")
    ax.margins(x=0.12, y=0.08)  # room for the N labels
    ax.set_xlim(left=0)
    ax.set_title(f"{report.dataset}: nDCG@{report.k} vs rerank latency ({report.queries} queries)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    target = Path(path)
    fig.savefig(target, format="png")
    return target


def _stage1_reference(ax: object, rows: list[Row], k: int) -> None:
    values = sorted({round(r.ndcg, 12) for r in rows})
    if len(values) == 1:
        ax.axhline(  # type: ignore[attr-defined]
            values[0], color="0.4", linestyle=":", label=f"stage 1 only ({values[0]:.3f})"
        )
    elif rows:
        ax.scatter(  # type: ignore[attr-defined]
            [0.0] * len(rows),
            [r.ndcg for r in rows],
            color="0.4",
            marker="x",
            label="stage 1 only (at x=0)",
        )
        for r in rows:
            ax.annotate(  # type: ignore[attr-defined]
                f"N={r.n}", (0.0, r.ndcg), textcoords="offset points", xytext=(5, -10), fontsize=8
            )


def write_report(
    report: Report, out_dir: str | os.PathLike[str], *, command: str | None = None
) -> list[Path]:
    """Write report.md, report.json and (for pipelines/indexes) the PNG chart into ``out_dir``."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    chart = None
    if report.n_values:
        written.append(plot(report, folder / CHART_FILE))
        chart = CHART_FILE
    md = folder / REPORT_FILE
    md.write_text(to_markdown(report, command=command, chart=chart), encoding="utf-8")
    data = folder / JSON_FILE
    payload = {**report.to_dict(per_query=True), "command": command}
    data.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [md, data, *written]
