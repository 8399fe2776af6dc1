"""The ``shortlist`` command: build an index, search it (optionally reranked), evaluate.

Errors from shortlist are printed as one line on stderr with exit status 2, never as a
traceback: they already say what to do, naming the flag the user typed. Every argument is
checked before the index or any model loads (that takes seconds to minutes), so a typo
fails in well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shortlist import defaults
from shortlist._quiet import quiet_loading
from shortlist._version import __version__
from shortlist.documents import Hit
from shortlist.errors import InvalidInputError, ShortlistError
from shortlist.evaluation.cli import add_eval_parser
from shortlist.tuning.cli import add_tune_parser

DEFAULT_TOP_M = 5
"""Results kept after reranking when ``-m`` is not given."""


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


def _positive(flag: str, value: int, meaning: str) -> None:
    if value < 1:
        raise InvalidInputError(f"{flag} must be a positive integer ({meaning}), got {value}.")


def _flag(flag: str, value: str, exc: ShortlistError) -> InvalidInputError:
    """``exc`` as an error about ``flag``, keeping its message (the fix is in it)."""
    return InvalidInputError(f"{flag} {value!r}: {exc}")


def cmd_index(args: argparse.Namespace) -> int:
    from shortlist.encoders import ONNX_PREFIX, check_encoder, load_encoder
    from shortlist.index import BaseIndex, Index, ShardedIndex
    from shortlist.index.specs import parse_spec
    from shortlist.loaders import load_documents

    # cheap checks first: reading the corpus and loading the model come after
    _positive("--batch-size", args.batch_size, "texts embedded per batch")
    try:
        parse_spec(args.index_spec)
    except ShortlistError as exc:
        raise _flag("--index-spec", args.index_spec, exc) from exc
    _positive("--shards", args.shards, "shards to split the index into")
    try:
        check_encoder(args.embedder)
    except ShortlistError as exc:
        raise _flag("--embedder", args.embedder, exc) from exc
    if args.ray is not None:
        return _index_on_ray(args)
    docs = load_documents(args.corpus)
    prompts = {"query_prompt": args.query_prompt, "document_prompt": args.document_prompt}
    if not args.embedder.startswith(ONNX_PREFIX):  # onnxruntime has no device to pick
        prompts["device"] = args.device
    with quiet_loading(args.quiet):
        encoder = load_encoder(args.embedder, **prompts)
    options = {"spec": args.index_spec, "batch_size": args.batch_size, "bm25": not args.no_bm25}
    if args.shards > 1:
        index: BaseIndex = ShardedIndex(encoder, shards=args.shards, **options)
    else:
        index = Index(encoder, **options)
    index.add(docs, show_progress=not args.quiet)
    path = index.save(args.out)
    print(f"Indexed {len(index)} documents with {encoder.name} ({index.spec}) -> {path}")
    return 0


def _index_on_ray(args: argparse.Namespace) -> int:
    """``shortlist index --ray ADDRESS``: embed with Ray Data into a sharded index."""
    from shortlist.scale import ray_module
    from shortlist.scale.encode import build_on_ray

    ray = ray_module()
    address = None if args.ray == "local" else args.ray
    ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        index = build_on_ray(
            args.corpus, args.out, embedder=args.embedder, shards=args.shards,
            spec=args.index_spec, bm25=not args.no_bm25, batch_size=args.batch_size,
            show_progress=not args.quiet,
        )  # fmt: skip
        count = len(index)
        index.close()
    finally:
        ray.shutdown()
    print(f"Indexed {count} documents on Ray into {args.shards} shards -> {args.out}")
    return 0


def _apply_funnel(args: argparse.Namespace) -> None:
    """``--funnel FILE``: its settings fill every search flag the user did not give."""
    args.hybrid = None
    if not args.funnel:
        return
    from shortlist.funnel import Funnel

    try:
        funnel = Funnel.load(args.funnel)
    except ShortlistError as exc:
        raise _flag("--funnel", args.funnel, exc) from exc
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
    from shortlist._adapters import fusion_field
    from shortlist.index.filters import compile_filter
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
    if args.n is None:
        args.n = defaults.FETCH_K if args.reranker else 10
    _positive("-n", args.n, "candidates to retrieve")
    if args.m is None:
        args.m = min(DEFAULT_TOP_M, args.n) if args.reranker else args.n
    _positive("-m", args.m, "results to show")
    if args.m > args.n:
        raise InvalidInputError(
            f"-m {args.m} exceeds -n {args.n}: -m results are kept from the -n retrieved "
            "candidates. Raise -n or lower -m."
        )
    if args.fusion is not None:
        if not args.reranker:
            raise InvalidInputError(
                "--fusion combines the retrieval and rerank rankings, so it needs --reranker."
            )
        try:
            fusion_field(args.fusion)
        except ShortlistError as exc:
            raise _flag("--fusion", args.fusion, exc) from exc
    if args.rerank_budget_ms is not None:
        from shortlist._validate import finite_number

        try:
            finite_number("rerank_budget_ms", args.rerank_budget_ms, positive=True)
        except ShortlistError as exc:
            raise _flag("--rerank-budget-ms", str(args.rerank_budget_ms), exc) from exc
    flt = _parse_filter(args.filter)
    if flt is not None:
        try:
            compile_filter(flt)
        except ShortlistError as exc:
            raise _flag("--filter", " ".join(args.filter), exc) from exc
    if args.reranker:
        from shortlist.rerank import check_reranker

        try:
            check_reranker(args.reranker)
        except ShortlistError as exc:
            raise _flag("--reranker", args.reranker, exc) from exc
    if args.embedder:
        from shortlist.encoders import check_encoder

        try:
            check_encoder(args.embedder)
        except ShortlistError as exc:
            raise _flag("--embedder", args.embedder, exc) from exc
    return flt


def cmd_search(args: argparse.Namespace) -> int:
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


def cmd_export_encoder(args: argparse.Namespace) -> int:
    from shortlist.encoders import check_encoder, export_encoder

    try:
        check_encoder(args.model)
    except ShortlistError as exc:
        raise _flag("model", args.model, exc) from exc
    with quiet_loading(True):
        out = export_encoder(args.model, args.out, quantize=args.int8)
    kind = "int8" if args.int8 else "float32"
    print(f"Exported {args.model} ({kind}) -> {out}; use it with --embedder onnx:{out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from shortlist.index import read_any_manifest

    json.dump(read_any_manifest(args.index), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from shortlist.doctor import report

    lines, problems = report()
    print("\n".join(lines))
    for problem in problems:
        print(f"shortlist: problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


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
        "--embedder",
        default="sentence-transformers/all-MiniLM-L6-v2",
        help="hub id or local path, or onnx:DIR (an export-encoder folder; no torch)",
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
    p.add_argument(
        "--shards", type=int, default=1, help="split the index into N shards (ShardedIndex)"
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        default=None,
        help="embed on a Ray cluster with Ray Data ('auto', 'ray://host:10001', or 'local' "
        "to start one here); needs shortlist[ray]",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="search an index, optionally reranking the candidates")
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

    p = sub.add_parser("info", help="print an index's manifest")
    p.add_argument("index")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "doctor",
        help="check the installation: torch build vs GPU, versions, extras",
        description="Report what is installed; exit 1 if something does not suit this "
        "machine (such as a CUDA build of torch where no CUDA GPU is usable).",
    )
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "export-encoder",
        help="export a sentence-transformers bi-encoder to ONNX (torch-free queries)",
        description="Write MODEL as ONNX to --out; use it with --embedder onnx:DIR. An index "
        "built with MODEL accepts the export as the same model.",
    )
    p.add_argument("model", help="sentence-transformers hub id or local folder")
    p.add_argument("--out", required=True, help="folder to write (new or empty)")
    p.add_argument("--int8", action="store_true", help="int8 weights (smaller, faster on CPU)")
    p.set_defaults(func=cmd_export_encoder)

    add_eval_parser(sub)
    add_tune_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shortlist`` console script."""
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return code
    except ShortlistError as exc:
        print(f"shortlist: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`shortlist info DIR | head`): that is the reader's choice,
        # not an error. Point stdout at /dev/null so the interpreter's final flush cannot
        # fail again, and exit like a process killed by SIGPIPE (128 + 13).
        _stdout_to_devnull()
        return 141


def _stdout_to_devnull() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
