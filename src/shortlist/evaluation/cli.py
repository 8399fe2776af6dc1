"""``shortlist eval``: evaluate retrieve-and-rerank on a BEIR-format dataset.

Wire it in with :func:`add_eval_parser`; the handler returns the process exit code.
Human output goes to stdout (the table) and stderr (progress, notes); with ``--json``
stdout carries only the JSON report, so it can be piped.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import replace
from typing import Any

from shortlist import defaults


def _n_list(raw: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in raw.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers like 10,20,50; got {raw!r}")
    return values


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {raw!r}")
    return value


def add_eval_parser(subparsers: Any) -> None:
    """Register ``eval`` on the main parser's ``add_subparsers()`` object."""
    p = subparsers.add_parser(
        "eval",
        help="measure retrieval and reranking on a BEIR dataset (nDCG, MRR, recall, latency)",
        description=(
            "Embed the dataset's corpus once, run stage 1 once per query at the largest N, "
            "rerank the top N candidates with each reranker (plain and fused), and report "
            "nDCG@10, MRR@10, Recall@M/@N and per-stage latency, with a verdict per reranker."
        ),
    )
    p.add_argument("dataset", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    p.add_argument("--split", default="test", help="qrels split to use (default: test)")
    p.add_argument(
        "--embedder",
        default=None,
        help="bi-encoder, hub id or local path (default: sentence-transformers/all-MiniLM-L6-v2)",
    )
    p.add_argument(
        "--index", default=None, metavar="DIR", help="reuse a saved index of this corpus"
    )
    p.add_argument(
        "--index-spec", default=None, help="auto (default) | flat | hnsw | ivfpq | faiss:..."
    )
    p.add_argument("--batch-size", type=_positive, default=32, help="embedding batch size")
    p.add_argument(
        "--reranker",
        action="extend",
        nargs="+",
        default=[],
        metavar="SPEC",
        help="reranker spec(s), e.g. onnx:PATH cross-encoder:PATH 'onnx:PATH?dequantize=true' "
        "(repeatable)",
    )
    p.add_argument(
        "-n",
        type=_n_list,
        default=None,
        metavar="N,N,...",
        help=f"candidate counts to rerank (default: the funnel's fetch_k, {defaults.FETCH_K})",
    )
    p.add_argument(
        "-m", type=_positive, default=10, help="shortlist size for Recall@M (default 10)"
    )
    p.add_argument(
        "--fusion",
        action="extend",
        nargs="+",
        default=None,
        metavar="SPEC",
        help="more fused variant(s) to report: rrf[:k=60] | weighted[:w=0.5] "
        "(repeatable; the funnel's own fusion is always reported)",
    )
    p.add_argument(
        "--mode",
        default=None,
        metavar="MODE,MODE,...",
        help="a grid of stage-1 modes, each reranked: dense, bm25, hybrid, hybrid:alpha=0.5, "
        "hybrid:rrf (default: BM25, dense and the funnel's hybrid as baselines, the funnel "
        "reranked; the report names the best setting of a grid)",
    )
    p.add_argument(
        "--funnel",
        default=None,
        metavar="FILE",
        help="the funnel to measure (a config from --calibrate, .json/.toml; default: the "
        "shipped one, with the first --reranker as its reranker if given)",
    )
    p.add_argument(
        "--calibrate",
        default=None,
        metavar="FILE",
        help="choose the funnel's settings on these judged queries (few candidates, k-fold "
        "cross-validated, kept at the default unless the gain is significant out of fold) "
        "and write the chosen funnel config to FILE",
    )
    p.add_argument(
        "--queries",
        type=_positive,
        default=None,
        metavar="LIMIT",
        help="evaluate only the first LIMIT queries",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write report.md, report.json and a PNG chart here",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_eval)


def command_line(args: argparse.Namespace) -> str:
    """The full command, defaults spelled out, so a report says exactly how to rerun it."""
    parts = ["shortlist", "eval", args.dataset]
    if args.split != "test":
        parts += ["--split", args.split]
    parts += _given(("--embedder", args.embedder), ("--index", args.index),
                    ("--index-spec", args.index_spec))  # fmt: skip
    for spec in args.reranker:
        parts += ["--reranker", spec]
    n_values = args.n or (funnel_of(args).fetch_k,)
    parts += ["-n", ",".join(map(str, n_values)), "-m", str(args.m)]
    if args.fusion:
        parts += ["--fusion", *args.fusion]
    parts += _given(("--mode", args.mode), ("--funnel", args.funnel),
                    ("--calibrate", args.calibrate))  # fmt: skip
    if args.queries:
        parts += ["--queries", str(args.queries)]
    return " ".join(shlex.quote(p) for p in parts)


def _given(*flags: tuple[str, str | None]) -> list[str]:
    """``[flag, value, ...]`` for each flag that has a value."""
    return [part for flag, value in flags if value for part in (flag, value)]


def funnel_of(args: argparse.Namespace) -> Any:
    """The funnel ``eval`` measures: ``--funnel FILE`` or the shipped one, with the first
    ``--reranker`` as its reranker and the largest ``-n`` as its ``fetch_k`` when given."""
    from shortlist.funnel import DEFAULT, Funnel

    funnel = Funnel.load(args.funnel) if args.funnel else DEFAULT
    changes: dict[str, Any] = {}
    if args.reranker:
        changes["reranker"] = args.reranker[0]
    if args.n:
        changes["fetch_k"] = max(args.n)
        changes["top_n"] = min(funnel.top_n, max(args.n))
    return funnel.replace(**changes)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_eval(args: argparse.Namespace) -> int:
    """Handler of ``shortlist eval``; returns the exit code."""
    from shortlist._quiet import quiet_loading
    from shortlist.evaluation.beir import load_beir
    from shortlist.evaluation.render import format_table, write_report
    from shortlist.evaluation.report import evaluate

    # everything that can be wrong with the arguments fails here, before minutes of embedding
    funnel, n_values, fusion, modes = _check_eval(args)
    dataset = load_beir(args.dataset, split=args.split)
    if dataset.excluded:
        listed = ", ".join(f"{q} ({why})" for q, why in list(dataset.excluded.items())[:8])
        more = ", ..." if len(dataset.excluded) > 8 else ""
        _say(f"Excluded {len(dataset.excluded)} queries that cannot be evaluated: {listed}{more}")
    dataset = dataset.head(args.queries)
    with quiet_loading(args.quiet):
        rerankers = _load_rerankers(args.reranker[1:])
    index, settings = _eval_index(args, dataset)
    if args.calibrate:
        return _calibrate(args, index, dataset, funnel, settings)
    report = evaluate(
        index,
        dataset,
        n_values=n_values,
        m=args.m,
        rerankers=rerankers,
        fusion=fusion,
        show_progress=not args.quiet,
        modes=modes,
        funnel=funnel,
    )
    report = replace(report, settings={**settings, **report.settings})
    command = command_line(args)
    if args.out:
        for path in write_report(report, args.out, command=command):
            _say(f"Wrote {path}")
    if args.json:
        json.dump(
            {**report.to_dict(per_query=True), "command": command},
            sys.stdout,
            indent=2,
            ensure_ascii=False,
        )
        sys.stdout.write("\n")
    else:
        print(format_table(report))
    return 0


def _check_eval(args: argparse.Namespace) -> tuple[Any, tuple[int, ...], list[Any], Any]:
    """The funnel, N values, fusions and modes to measure, every spec checked (milliseconds,
    before the dataset or a model loads)."""
    from shortlist.errors import InvalidInputError
    from shortlist.rerank import check_reranker
    from shortlist.rerank.fusion import Fusion

    funnel = funnel_of(args)
    n_values = tuple(args.n) if args.n else (funnel.fetch_k,)
    if args.m > min(n_values):
        raise InvalidInputError(f"-m ({args.m}) must not exceed the smallest N ({min(n_values)}).")
    fusion = [f for f in map(Fusion.parse, args.fusion or []) if f is not None]
    modes = [m for m in (args.mode or "").split(",") if m.strip()] or None
    for spec in [*args.reranker, *([funnel.reranker] if funnel.reranker else [])]:
        check_reranker(spec)
    return funnel, n_values, fusion, modes


def _eval_index(args: argparse.Namespace, dataset: Any) -> tuple[Any, dict[str, Any]]:
    """The index to evaluate (``--index DIR``, or the corpus embedded once, timed) and the
    settings a report records about it."""
    from shortlist._quiet import quiet_loading
    from shortlist.cpu import cpu_flags, cpu_model
    from shortlist.evaluation.report import index_dataset
    from shortlist.index import load_index

    show = not args.quiet
    settings: dict[str, Any] = {}
    t0 = time.perf_counter()
    if args.index:
        with quiet_loading(args.quiet):
            index = load_index(args.index, encoder=args.embedder)
        settings["index_loaded_from"] = args.index
    else:
        if show:
            _say(f"Embedding {len(dataset.corpus)} documents (once)...")
        with quiet_loading(args.quiet):
            index = index_dataset(
                dataset,
                args.embedder,
                spec=args.index_spec,
                batch_size=args.batch_size,
                show_progress=show,
            )
        seconds = time.perf_counter() - t0
        settings["index_build_s"] = round(seconds, 2)
        settings["index_docs_per_s"] = round(len(index) / seconds, 1) if seconds > 0 else None
    settings["embedder"] = index.encoder.name
    settings["cpu"] = f"{cpu_model()} ({cpu_flags()})"  # int8 results differ by CPU kind
    return index, settings


def _calibrate(
    args: argparse.Namespace, index: Any, dataset: Any, funnel: Any, settings: dict[str, Any]
) -> int:
    """``--calibrate FILE``: choose the funnel on these queries, print why, write it."""
    from shortlist.evaluation.calibration import calibrate
    from shortlist.evaluation.render import format_table, write_report

    result, report = calibrate(index, dataset, funnel, show_progress=not args.quiet)
    report = replace(report, settings={**settings, **report.settings})
    if args.out:
        for path in write_report(report, args.out, command=command_line(args)):
            _say(f"Wrote {path}")
    path = result.save(args.calibrate)
    lines = [f"{name:<20} nDCG@{report.k} {value:.4f}" for name, value in result.means.items()]
    if args.json:
        record = {"calibration": result.record(), "funnel": result.chosen.to_dict()}
        json.dump({**record, "means": result.means}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(report))
        print("\nCandidates (all queries, in sample):\n  " + "\n  ".join(lines))
        print(f"\n{result.text}")
        print(f"Wrote {path}: {result.chosen.describe()}")
    return 0


def _load_rerankers(specs: list[str]) -> list[Any]:
    """Load every reranker before the (slow) embedding, so a bad spec fails fast."""
    if not specs:
        return []
    from shortlist.rerank import as_reranker

    return [as_reranker(spec) for spec in specs]
