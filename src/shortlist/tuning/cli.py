"""``shortlist tune``: the command line of :func:`shortlist.tuning.tune`.

Every argument is checked before the index or a model loads; the command exits 0 whether
or not tuning paid, and its last line names the model to use.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shortlist.errors import InvalidInputError


def _fractions(raw: str) -> tuple[float, float, float]:
    from shortlist.tuning.split import check_fractions

    try:
        values = [float(x) for x in raw.split(",")]
    except ValueError:
        raise InvalidInputError(
            f"--split expects three fractions such as 0.6,0.2,0.2, got {raw!r}."
        ) from None
    return check_fractions(values)


def _check_numbers(args: argparse.Namespace) -> None:
    """Numeric flags, checked after parsing so that a mistake is one line naming the flag."""
    from shortlist._validate import finite_number

    for flag, value in (
        ("--epochs", args.epochs),
        ("--batch-size", args.batch_size),
        ("--max-length", args.max_length),
        ("--patience", args.patience),
        ("-n", args.n),
    ):
        if value < 1:
            raise InvalidInputError(f"{flag} must be a positive integer, got {value}.")
    finite_number("--lr", args.lr, positive=True)
    if args.negatives < 0:
        raise InvalidInputError(f"--negatives must be 0 or more, got {args.negatives}.")
    if args.filter_margin is not None and not 0 <= args.filter_margin < 1:
        raise InvalidInputError(f"--filter-margin must be within 0..1, got {args.filter_margin}.")


def add_tune_parser(subparsers: Any) -> None:
    """Register ``tune`` on the main parser's ``add_subparsers()`` object."""
    from shortlist import defaults
    from shortlist.tuning.train import TrainSettings

    d = TrainSettings()
    p = subparsers.add_parser(
        "tune",
        help="fine-tune the reranker on your judged queries; judged on held-out queries",
        description=(
            "Split judged queries into train/dev/test by query, mine hard negatives from "
            "the index, fine-tune a cross-encoder (binary cross-entropy, early stopping on "
            "dev nDCG@10), then compare base and tuned rerankers on the test queries. The "
            "output folder holds the model, its int8 ONNX export, split.json, tuning.json "
            "(the verdict) and a model card."
        ),
    )
    p.add_argument(
        "data",
        help="BEIR folder (queries.jsonl + qrels/) or JSONL of {query, positive, negatives} "
        "or {query, document, label} rows",
    )
    p.add_argument("--index", required=True, metavar="DIR", help="saved index of the corpus")
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="new folder for the model")
    p.add_argument(
        "--base",
        default=None,
        help="cross-encoder to start from (default: cross-encoder/ms-marco-MiniLM-L-12-v2)",
    )
    p.add_argument("--split", default="0.6,0.2,0.2", metavar="TR,DEV,TEST")
    p.add_argument("--qrels", default="test", help="qrels split of a BEIR folder (default test)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "-n", type=int, default=defaults.FETCH_K, help="candidates reranked when judging"
    )
    p.add_argument("--mode", default=None, help="stage-1 mode (default: the funnel's)")
    p.add_argument(
        "--negatives", type=int, default=10, help="mined hard negatives per query (default 10)"
    )
    p.add_argument("--window", default="1:30", help="stage-1 ranks to mine from (default 1:30)")
    p.add_argument(
        "--filter-margin",
        type=float,
        default=None,
        help="drop mined negatives the base model scores within this fraction of the "
        "query's best positive (e.g. 0.05)",
    )
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.learning_rate)
    p.add_argument("--max-length", type=int, default=d.max_length)
    p.add_argument("--patience", type=int, default=d.patience)
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when present)")
    p.add_argument("--no-onnx", action="store_true", help="skip the int8 ONNX export")
    p.add_argument("--json", action="store_true", help="print tuning.json on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_tune)


_SETTINGS = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "learning_rate": "lr",
    "max_length": "max_length",
    "patience": "patience",
    "seed": "seed",
    "device": "device",
}
"""TrainSettings field -> the flag's ``args`` name."""


def _check_paths(args: argparse.Namespace) -> tuple[Path, str]:
    """The output folder (new or empty), the data (present) and the base model (found),
    checked before the index loads; returns the folder and the base model."""
    from shortlist.models import resolve_model
    from shortlist.rerank.cross_encoder import DEFAULT_MODEL

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise InvalidInputError(f"--out {out} is not empty; pick a new folder for the model.")
    if not Path(args.data).exists():
        raise InvalidInputError(f"{args.data} does not exist (a BEIR folder or a JSONL file).")
    base = args.base or DEFAULT_MODEL
    resolve_model(base, "sentence-transformers")  # fails now, not after loading the index
    return out, base


def cmd_tune(args: argparse.Namespace) -> int:
    """Handler of ``shortlist tune``; returns the exit code (0 whichever model wins)."""
    from shortlist._quiet import quiet_loading
    from shortlist.index import load_index
    from shortlist.index.hybrid import check_mode
    from shortlist.tuning.negatives import Window
    from shortlist.tuning.train import TrainSettings
    from shortlist.tuning.tune import tune

    window = Window.parse(args.window)
    fractions = _fractions(args.split)
    _check_numbers(args)
    if args.mode is not None:
        check_mode(args.mode)
    out, base = _check_paths(args)
    settings = TrainSettings(**{field: getattr(args, flag) for field, flag in _SETTINGS.items()})
    with quiet_loading(args.quiet):
        index = load_index(args.index)
    result = tune(
        args.data,
        index,
        out,
        base=base,
        fractions=fractions,
        n=args.n,
        mode=args.mode,
        window=window,
        negatives_per_query=args.negatives,
        filter_margin=args.filter_margin,
        settings=settings,
        export=not args.no_onnx,
        qrels_split=args.qrels,
        show_progress=not args.quiet,
    )
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if result.report is not None:
            from shortlist.evaluation.render import format_table

            print(format_table(result.report))
        print(result.verdict)
    return 0
