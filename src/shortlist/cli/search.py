"""``shortlist search``: retrieve from a saved index, optionally rerank, print the hits.

Every argument is checked by :func:`check_search` before the index or a model loads.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from shortlist import defaults
from shortlist._quiet import quiet_loading
from shortlist.cli._args import (
    check_encoder_flag,
    check_reranker_flag,
    flag_error,
    parse_filter,
    positive,
)
from shortlist.documents import Hit
from shortlist.errors import InvalidInputError, ShortlistError

DEFAULT_TOP_M = 5
"""Results kept after reranking when ``-m`` is not given."""


def add_search_parser(subparsers: Any) -> None:
    """Register ``search`` on the main parser's ``add_subparsers()`` object."""
    p = subparsers.add_parser("search", help="search an index, optionally reranking the candidates")
    p.add_argument("index", help="index directory")
    p.add_argument("query")
    p.add_argument(
        "--embedder",
        default=None,
        help="query encoder (default: the model recorded in the index, found by name); "
        "onnx:DIR queries with an export of that model, without torch",
    )
    p.add_argument(
        "--mode",
        choices=("hybrid", "dense", "bm25"),
        default=None,
        help="stage 1: hybrid (BM25 + dense; the default where the index has BM25), dense or bm25",
    )
    p.add_argument(
        "-n",
        type=int,
        default=None,
        help=f"stage-1 candidates (default: {defaults.FETCH_K} with --reranker, else 10)",
    )
    p.add_argument(
        "-m",
        type=int,
        default=None,
        help="results shown, the best of the -n candidates (default: 5 with --reranker, else -n)",
    )
    p.add_argument(
        "--reranker",
        default=None,
        help="e.g. onnx:cross-encoder/ms-marco-MiniLM-L-12-v2, cohere:rerank-v3.5; options ride "
        "along: onnx:DIR?dequantize=true&threads=2",
    )
    p.add_argument(
        "--fusion",
        default=None,
        help="combine retrieval and rerank rankings: auto | rrf | weighted[:w=0.7] | none "
        f"(default: auto = {defaults.FUSION} for a local cross-encoder, none for Cohere)",
    )
    p.add_argument(
        "--funnel",
        default=None,
        metavar="FILE",
        help="a funnel config (.json/.toml, e.g. from shortlist eval --calibrate): its "
        "settings apply wherever a flag is not given",
    )
    p.add_argument(
        "--rerank-budget-ms",
        type=float,
        default=None,
        help="stop reranking after this many ms; the rest keep their retrieval order",
    )
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="metadata filter (repeatable; a|b for 'in')",
    )
    p.add_argument(
        "--json", action="store_true", help="print a JSON list of {id, score, text, metadata}"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no model-loading progress bars")
    p.set_defaults(func=cmd_search)


def _apply_funnel(args: argparse.Namespace) -> None:
    """``--funnel FILE``: its settings fill every search flag the user did not give."""
    args.hybrid = None
    if not args.funnel:
        return
    from shortlist.funnel import Funnel

    try:
        funnel = Funnel.load(args.funnel)
    except ShortlistError as exc:
        raise flag_error("--funnel", args.funnel, exc) from exc
    args.reranker = args.reranker or funnel.reranker
    args.hybrid = funnel.hybrid
    for flag, value in (
        ("n", funnel.fetch_k),
        ("m", funnel.top_n),
        ("mode", funnel.mode),
        ("fusion", funnel.fusion if args.reranker else None),
        ("rerank_budget_ms", funnel.rerank_budget_ms),
        ("score_threshold", funnel.score_threshold),
    ):
        if getattr(args, flag, None) is None:
            setattr(args, flag, value)


def check_search(args: argparse.Namespace) -> dict[str, Any] | None:
    """Every check on ``search``'s arguments that needs no index and no model.

    Fills in the default ``-m`` and returns the parsed ``--filter``. ``-n`` is how many
    candidates stage 1 retrieves, ``-m`` how many of them are shown (after reranking, if
    any), so ``-m`` cannot exceed ``-n``.
    """
    from shortlist.index.persist import check_index_dir
    from shortlist.index.sharded_storage import is_sharded

    if not is_sharded(args.index):
        check_index_dir(Path(args.index))
    if not args.query.strip():
        raise InvalidInputError(
            'The query is empty: pass the text to search for, e.g. shortlist search DIR "heat '
            'transfer".'
        )
    _apply_funnel(args)
    _check_counts(args)
    _check_rerank_flags(args)
    flt = _check_filter(args.filter)
    if args.reranker:
        check_reranker_flag("--reranker", args.reranker)
    if args.embedder:
        check_encoder_flag("--embedder", args.embedder)
    return flt


def _check_counts(args: argparse.Namespace) -> None:
    """Fill in the default ``-n`` and ``-m`` and check that ``-m`` fits in ``-n``."""
    if args.n is None:
        args.n = defaults.FETCH_K if args.reranker else 10
    positive("-n", args.n, "candidates to retrieve")
    if args.m is None:
        args.m = min(DEFAULT_TOP_M, args.n) if args.reranker else args.n
    positive("-m", args.m, "results to show")
    if args.m > args.n:
        raise InvalidInputError(
            f"-m {args.m} exceeds -n {args.n}: -m results are kept from the -n retrieved "
            "candidates. Raise -n or lower -m."
        )


def _check_rerank_flags(args: argparse.Namespace) -> None:
    """``--fusion`` (which needs ``--reranker``) and ``--rerank-budget-ms``."""
    if args.fusion is not None:
        from shortlist._adapters import fusion_field

        if not args.reranker:
            raise InvalidInputError(
                "--fusion combines the retrieval and rerank rankings, so it needs --reranker."
            )
        try:
            fusion_field(args.fusion)
        except ShortlistError as exc:
            raise flag_error("--fusion", args.fusion, exc) from exc
    if args.rerank_budget_ms is not None:
        from shortlist._validate import finite_number

        try:
            finite_number("rerank_budget_ms", args.rerank_budget_ms, positive=True)
        except ShortlistError as exc:
            raise flag_error("--rerank-budget-ms", str(args.rerank_budget_ms), exc) from exc


def _check_filter(pairs: list[str]) -> dict[str, Any] | None:
    """The parsed ``--filter``, compiled once here so a bad operator fails now."""
    from shortlist.index.filters import compile_filter

    flt = parse_filter(pairs)
    if flt is not None:
        try:
            compile_filter(flt)
        except ShortlistError as exc:
            raise flag_error("--filter", " ".join(pairs), exc) from exc
    return flt


def cmd_search(args: argparse.Namespace) -> int:
    """Handler of ``shortlist search``; returns the exit code."""
    flt = check_search(args)  # before anything loads

    from shortlist.index import load_index
    from shortlist.pipeline import Pipeline
    from shortlist.rerank import load_reranker

    with quiet_loading(args.quiet):
        index = load_index(args.index, encoder=args.embedder)
        reranker = load_reranker(args.reranker) if args.reranker else None
    if reranker is not None:
        pipe = Pipeline(
            index,
            reranker,
            fetch_k=args.n,
            top_n=args.m,
            fusion=args.fusion if args.fusion is not None else "auto",
            mode=args.mode,
            hybrid=args.hybrid,
            score_threshold=getattr(args, "score_threshold", None),
            rerank_budget_ms=args.rerank_budget_ms,
        )
        hits = pipe.search(args.query, filter=flt)
    else:
        hits = index.search(args.query, args.m, filter=flt, mode=args.mode, hybrid=args.hybrid)
    if args.json:
        json.dump([h.to_dict() for h in hits], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(_table(hits, reranked=bool(args.reranker)))
    return 0


def _table(hits: list[Hit], *, reranked: bool) -> str:
    """The hits as aligned columns, texts shortened to one line each."""
    if not hits:
        return "No results."
    head = ["rank", "id", "score"] + (["retr.rank", "retr.score"] if reranked else []) + ["text"]
    rows = []
    for h in hits:
        row = [str(h.rank), h.id, f"{h.score:.4f}"]
        if reranked:
            row += [str(h.retrieval_rank), f"{h.retrieval_score:.4f}" if h.retrieval_score else "-"]
        row.append(textwrap.shorten(" ".join(h.text.split()), 70, placeholder="…"))
        rows.append(row)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
