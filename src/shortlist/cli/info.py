"""``shortlist info`` and ``shortlist doctor``: look at an index or at the installation."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_info_parser(subparsers: Any) -> None:
    """Register ``info`` on the main parser's ``add_subparsers()`` object."""
    p = subparsers.add_parser("info", help="print an index's manifest")
    p.add_argument("index")
    p.set_defaults(func=cmd_info)


def add_doctor_parser(subparsers: Any) -> None:
    """Register ``doctor`` on the main parser's ``add_subparsers()`` object."""
    p = subparsers.add_parser(
        "doctor",
        help="check the installation: torch build vs GPU, versions, extras",
        description="Report what is installed; exit 1 if something does not suit this "
        "machine (such as a CUDA build of torch where no CUDA GPU is usable).",
    )
    p.set_defaults(func=cmd_doctor)


def cmd_info(args: argparse.Namespace) -> int:
    """Handler of ``shortlist info``: the manifest (of a single or a sharded index) as JSON."""
    from shortlist.index import read_any_manifest

    json.dump(read_any_manifest(args.index), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Handler of ``shortlist doctor``; exit 1 when a problem was found."""
    from shortlist.doctor import report

    lines, problems = report()
    print("\n".join(lines))
    for problem in problems:
        print(f"shortlist: problem: {problem}", file=sys.stderr)
    return 1 if problems else 0
