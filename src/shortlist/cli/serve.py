"""``shortlist serve``: the reranker (and the funnel over named indexes) over HTTP.

Every flag, the index folders, the funnel file and the API key file are checked before
the ``[serve]`` extra is imported or a model loads. API keys come from ``--api-key-file``
and ``$SHORTLIST_API_KEYS`` only, never from a flag, which ``ps`` would show to every
user of the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import Any

from shortlist.cli._args import check_reranker_flag, flag_error
from shortlist.errors import InvalidInputError, ShortlistError


def add_serve_parser(subparsers: Any) -> None:
    """Register ``serve`` on the main parser's ``add_subparsers()`` object."""
    from shortlist.serve.config import DEFAULT_HOST, DEFAULT_PORT, KEYS_ENV, Limits

    d = Limits()
    p = subparsers.add_parser(
        "serve",
        help="serve the reranker (Cohere-compatible /v2/rerank) and the funnel over HTTP",
        description="A rerank service the cohere SDK can call (base_url=http://HOST:PORT), "
        f"plus /v1/search over named indexes, /health and /metrics. API keys: "
        f"--api-key-file and ${KEYS_ENV} (comma-separated); with neither, the server is open.",
    )
    p.add_argument(
        "--reranker",
        default=None,
        help="reranker spec, e.g. onnx:DIR, "
        "or a fallback chain 'cohere:rerank-v3.5 | onnx:DIR' (default: the funnel's)",
    )
    p.add_argument(
        "--index",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="an index to serve at /v1/search (repeatable)",
    )
    p.add_argument("--funnel", default=None, metavar="FILE", help="funnel config (.json/.toml)")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"(default {DEFAULT_PORT})")
    p.add_argument("--api-key-file", default=None, metavar="FILE", help="API keys, one a line")
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow browser calls from this origin (repeatable; default none)",
    )
    p.add_argument(
        "--cache",
        type=int,
        default=0,
        metavar="PAIRS",
        help="keep this many (query, document) scores (default 0: off)",
    )
    limits = p.add_argument_group("limits")
    for flag, kind, default, meaning in (
        ("--max-body-bytes", int, d.max_body_bytes, "request body size (413 above)"),
        ("--max-documents", int, d.max_documents, "documents per request (413 above)"),
        ("--max-document-chars", int, d.max_document_chars, "characters per document (413)"),
        ("--max-concurrency", int, d.max_concurrency, "requests handled at once"),
        ("--max-queue", int, d.max_queue, "requests waiting for a slot (429 beyond)"),
        ("--queue-timeout-s", float, d.queue_timeout_s, "longest wait for a slot (503 after)"),
        ("--budget-ms", float, None, "per-request rerank deadline (504 on /v2/rerank)"),
        ("--drain-s", float, d.drain_s, "on shutdown, time for in-flight requests"),
    ):
        limits.add_argument(flag, type=kind, default=default, help=f"{meaning} (default {default})")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.set_defaults(func=cmd_serve)


def check_serve(args: argparse.Namespace) -> Any:
    """Every check that needs no model; returns the :class:`ServeConfig`."""
    from shortlist.serve.config import Limits, ServeConfig, load_api_keys, parse_index_flag

    indexes = dict(parse_index_flag(v) for v in args.index)
    for name, path in indexes.items():
        _check_index(name, path)
    if args.funnel:
        from shortlist.funnel import Funnel

        try:
            funnel_reranker = Funnel.load(args.funnel).reranker
        except ShortlistError as exc:
            raise flag_error("--funnel", args.funnel, exc) from exc
    else:
        funnel_reranker = None
    spec = args.reranker or funnel_reranker
    if spec is None and not indexes:
        raise InvalidInputError("Nothing to serve: pass --reranker SPEC and/or --index NAME=DIR.")
    if spec is not None:  # the funnel's reranker loads here too: check it before that
        check_reranker_flag("--reranker" if args.reranker else "--funnel", spec)
    if not 0 <= args.port <= 65535:
        raise InvalidInputError(f"--port must be 0..65535 (0: any free port), got {args.port}.")
    limits = Limits(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Limits)})
    return ServeConfig(
        reranker=args.reranker,
        indexes=indexes,
        funnel=args.funnel,
        api_keys=load_api_keys(args.api_key_file),
        limits=limits,
        cors_origins=tuple(args.cors_origin),
        cache_pairs=max(args.cache, 0),
    )


def _check_index(name: str, path: str) -> None:
    from shortlist.index.persist import check_index_dir
    from shortlist.index.sharded_storage import is_sharded

    if is_sharded(path):
        return
    try:
        check_index_dir(Path(path))
    except ShortlistError as exc:
        raise flag_error("--index", f"{name}={path}", exc) from exc


def cmd_serve(args: argparse.Namespace) -> int:
    """Handler of ``shortlist serve``: check, then serve until SIGTERM/SIGINT."""
    config = check_serve(args)
    from shortlist.serve import create_app, run

    if not logging.getLogger().handlers:  # the command owns the process: show its log
        logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(message)s")
    app = create_app(config)
    run(
        app, host=args.host, port=args.port, drain_s=config.limits.drain_s, log_level=args.log_level
    )
    return 0
