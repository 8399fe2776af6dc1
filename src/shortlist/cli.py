"""The ``shortlist`` command: build an index, search it (optionally reranked), evaluate.

Errors from shortlist are printed as one line on stderr with exit status 2, never as a
traceback: they already say what to do.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from shortlist._version import __version__
from shortlist.documents import Hit
from shortlist.errors import InvalidInputError, ShortlistError
from shortlist.evaluation.cli import add_eval_parser


def _parse_filter(pairs: Sequence[str]) -> dict[str, Any] | None:
    """``--filter key=value`` (repeatable; ``key=a|b`` means a or b); JSON values are parsed."""
    if not pairs:
        return None
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq or not key:
            raise InvalidInputError(f"--filter expects key=value, got {pair!r}.")
        values = [_json_or_str(v) for v in raw.split("|")]
        out[key] = values[0] if len(values) == 1 else {"$in": values}
    return out


def _json_or_str(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def cmd_index(args: argparse.Namespace) -> int:
    from shortlist.encoders import SentenceTransformerEncoder
    from shortlist.index import Index
    from shortlist.loaders import load_documents

    docs = load_documents(args.corpus)
    encoder = SentenceTransformerEncoder(
        args.embedder,
        device=args.device,
        query_prompt=args.query_prompt,
        document_prompt=args.document_prompt,
    )
    index = Index(encoder, spec=args.index_spec, batch_size=args.batch_size, bm25=not args.no_bm25)
    index.add(docs, show_progress=not args.quiet)
    path = index.save(args.out)
    print(f"Indexed {len(index)} documents with {encoder.name} ({index.spec}) -> {path}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from shortlist.index import Index
    from shortlist.pipeline import Pipeline, default_mode

    index = Index.load(args.index, encoder=args.embedder)
    flt = _parse_filter(args.filter)
    if args.reranker:
        top_n = min(5, args.n) if args.m is None else args.m
        pipe = Pipeline(
            index,
            args.reranker,
            fetch_k=args.n,
            top_n=top_n,
            fusion=args.fusion,
            mode=args.mode,
            rerank_budget_ms=args.rerank_budget_ms,
        )
        hits = pipe.search(args.query, filter=flt)
    else:
        mode = args.mode if args.mode is not None else default_mode(index)
        hits = index.search(args.query, args.n if args.m is None else args.m, filter=flt, mode=mode)
    if args.json:
        json.dump([h.to_dict() for h in hits], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(_table(hits, reranked=bool(args.reranker)))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from shortlist.index import Index

    json.dump(Index.read_manifest(args.index), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _table(hits: list[Hit], *, reranked: bool) -> str:
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="shortlist",
        description="Retrieve with a FAISS bi-encoder index, rerank the shortlist.",
    )
    parser.add_argument("--version", action="version", version=f"shortlist {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="embed a corpus and save an index directory")
    p.add_argument(
        "corpus",
        help="BEIR corpus.jsonl (or its folder), any JSON-lines corpus, or a folder of .txt/.md",
    )
    p.add_argument("--out", required=True, help="index directory to write (atomically)")
    p.add_argument(
        "--embedder", default="sentence-transformers/all-MiniLM-L6-v2", help="hub id or local path"
    )
    p.add_argument(
        "--index-spec",
        default="flat",
        help="flat | hnsw[:m=32,ef_search=64] | ivfpq[:nlist=..,m=..,nprobe=..] | faiss:FACTORY",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: auto)")
    p.add_argument("--query-prompt", default="", help="prefix for queries, e.g. 'query: ' (e5/bge)")
    p.add_argument("--document-prompt", default="", help="prefix for documents, e.g. 'passage: '")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--no-bm25",
        action="store_true",
        help="vectors only: no BM25 index beside them (no bm25/hybrid search)",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="search an index, optionally reranking the candidates")
    p.add_argument("index", help="index directory")
    p.add_argument("query")
    p.add_argument(
        "--embedder",
        default=None,
        help="query encoder (default: the model recorded in the index, found by name)",
    )
    p.add_argument(
        "--mode",
        choices=("hybrid", "dense", "bm25"),
        default=None,
        help="stage 1: hybrid (BM25 + dense; the default where the index has BM25), dense or bm25",
    )
    p.add_argument("-n", type=int, default=10, help="stage-1 candidates (default 10)")
    p.add_argument(
        "-m",
        type=int,
        default=None,
        help="results kept after reranking (default 5 with --reranker)",
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
        help="combine retrieval and rerank rankings: rrf | weighted[:w=0.7]",
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
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("info", help="print an index's manifest")
    p.add_argument("index")
    p.set_defaults(func=cmd_info)

    add_eval_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shortlist`` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) == "search" and args.reranker and args.m is None:
        args.m = 5
    try:
        return int(args.func(args))
    except ShortlistError as exc:
        print(f"shortlist: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
