"""``shortlist index``, ``export-encoder`` and ``export-reranker``: the commands that write
to disk."""

from __future__ import annotations

import argparse
import json
from typing import Any

from shortlist._quiet import quiet_loading
from shortlist.cli._args import check_encoder_flag, flag_error, positive
from shortlist.errors import ShortlistError


def add_index_parser(subparsers: Any) -> None:
    """Register ``index`` on the main parser's ``add_subparsers()`` object."""
    p = subparsers.add_parser("index", help="embed a corpus and save an index directory")
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
        default="auto",
        help="auto (default: flat, then hnsw from 100,000 vectors) | flat | "
        "hnsw[:m=32,ef_search=64] | ivfpq[:nlist=..,m=..,nprobe=..] | faiss:FACTORY",
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


def add_export_encoder_parser(subparsers: Any) -> None:
    """Register ``export-encoder`` on the main parser's ``add_subparsers()`` object."""
    p = subparsers.add_parser(
        "export-encoder",
        help="export a sentence-transformers bi-encoder to ONNX (torch-free queries)",
        description="Write MODEL as ONNX to --out; use it with --embedder onnx:DIR. An index "
        "built with MODEL accepts the export as the same model.",
    )
    p.add_argument("model", help="sentence-transformers hub id or local folder")
    p.add_argument("--out", required=True, help="folder to write (new or empty)")
    p.add_argument("--int8", action="store_true", help="int8 weights (smaller, faster on CPU)")
    p.set_defaults(func=cmd_export_encoder)


def add_export_reranker_parser(subparsers: Any) -> None:
    """Register ``export-reranker`` on the main parser's ``add_subparsers()`` object."""
    p = subparsers.add_parser(
        "export-reranker",
        help="export a sentence-transformers cross-encoder to ONNX (the fast onnx: reranker)",
        description="Write MODEL (a sentence-transformers cross-encoder with one logit: BERT, "
        "XLM-RoBERTa, DeBERTa-v2, ModernBERT...) as ONNX to --out, with its tokenizer and a "
        "model card; use it with --reranker onnx:DIR. The export is scored against the torch "
        "model on fixed pairs: a float32 graph that differs is refused; the figures are "
        "printed and kept in the card.",
    )
    p.add_argument(
        "model", metavar="MODEL", help="sentence-transformers cross-encoder: hub id or folder"
    )
    p.add_argument("--out", metavar="DIR", required=True, help="folder to write (new or empty)")
    p.add_argument(
        "--int8",
        action="store_true",
        help="int8 weights per channel, dynamic activations (smaller, faster on CPU)",
    )
    p.set_defaults(func=cmd_export_reranker)


def _check_index(args: argparse.Namespace) -> None:
    """The cheap checks: reading the corpus and loading the model come after."""
    from shortlist.index.specs import parse_spec

    positive("--batch-size", args.batch_size, "texts embedded per batch")
    try:
        parse_spec(args.index_spec)
    except ShortlistError as exc:
        raise flag_error("--index-spec", args.index_spec, exc) from exc
    positive("--shards", args.shards, "shards to split the index into")
    check_encoder_flag("--embedder", args.embedder)


def cmd_index(args: argparse.Namespace) -> int:
    """Handler of ``shortlist index``; returns the exit code."""
    from shortlist.encoders import ONNX_PREFIX, load_encoder
    from shortlist.index import BaseIndex, Index, ShardedIndex
    from shortlist.loaders import load_documents

    _check_index(args)
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


def cmd_export_encoder(args: argparse.Namespace) -> int:
    """Handler of ``shortlist export-encoder``; returns the exit code."""
    from shortlist.encoders import export_encoder

    check_encoder_flag("model", args.model)
    with quiet_loading(True):
        out = export_encoder(args.model, args.out, quantize=args.int8)
    kind = "int8" if args.int8 else "float32"
    print(f"Exported {args.model} ({kind}) -> {out}; use it with --embedder onnx:{out}")
    return 0


def cmd_export_reranker(args: argparse.Namespace) -> int:
    """Handler of ``shortlist export-reranker``; returns the exit code."""
    from shortlist.models import resolve_model
    from shortlist.rerank import export_reranker
    from shortlist.rerank.export_card import CARD, parity_lines

    try:  # a wrong name or folder fails here, before torch and the model load
        resolve_model(args.model, "sentence-transformers")
    except ShortlistError as exc:
        raise flag_error("MODEL", args.model, exc) from exc
    with quiet_loading(True):
        out = export_reranker(args.model, args.out, quantize=args.int8)
    card = json.loads((out / CARD).read_text(encoding="utf-8"))
    kind = "int8" if args.int8 else "float32"
    print(f"Exported {args.model} ({kind}) -> {out}; use it with --reranker onnx:{out}")
    for line in parity_lines(card):
        print(f"  {line}")
    return 0
