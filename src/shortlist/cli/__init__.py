"""The ``shortlist`` command: build an index, search it (optionally reranked), evaluate.

One module per command group registers its subcommands (``add_*_parser``) together with
their handlers: :mod:`~shortlist.cli.build` (index, export-encoder, export-reranker),
:mod:`~shortlist.cli.search`, :mod:`~shortlist.cli.info` (info, doctor),
:mod:`shortlist.evaluation.cli` (eval), :mod:`shortlist.tuning.cli` (tune) and
:mod:`~shortlist.cli.serve` (serve).

Errors from shortlist are printed as one line on stderr with exit status 2, never as a
traceback: they already say what to do, naming the flag the user typed. Every argument is
checked before the index or any model loads (that takes seconds to minutes), so a typo
fails in well under a second.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from shortlist._version import __version__
from shortlist.cli.build import (
    add_export_encoder_parser,
    add_export_reranker_parser,
    add_index_parser,
)
from shortlist.cli.info import add_doctor_parser, add_info_parser
from shortlist.cli.search import DEFAULT_TOP_M, add_search_parser, check_search
from shortlist.cli.serve import add_serve_parser
from shortlist.errors import ShortlistError
from shortlist.evaluation.cli import add_eval_parser
from shortlist.tuning.cli import add_tune_parser

__all__ = ["DEFAULT_TOP_M", "build_parser", "check_search", "main"]

_SUBCOMMANDS = (
    add_index_parser,
    add_search_parser,
    add_info_parser,
    add_doctor_parser,
    add_export_encoder_parser,
    add_export_reranker_parser,
    add_eval_parser,
    add_tune_parser,
    add_serve_parser,
)
"""Each registers one subcommand with its handler, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="shortlist",
        description="Retrieve with a FAISS bi-encoder index, rerank the shortlist.",
    )
    parser.add_argument("--version", action="version", version=f"shortlist {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add_parser in _SUBCOMMANDS:
        add_parser(sub)
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
