"""Run the benchmarks in one process and print (and optionally write) the results.

    python -m benchmarks.run                      # cranfield + cisi, writes nothing
    python -m benchmarks.run --out docs/benchmarks.md --queries 20 --repeats 3
    python -m benchmarks.run --smoke              # seconds: a CI check that it still runs

Everything runs side by side in this one process, on the same data and the same weights;
see :mod:`benchmarks.stage1` and :mod:`benchmarks.stage2` for what each number means.
The exit status is 1 when a quality-parity check fails (never in ``--smoke``, whose two
queries are too few to judge quality).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import BI_ENCODER, DATASETS, machine
from benchmarks.render import (
    markdown,
    parity,
    stage1_table,
    stage2_table,
    summary,
    target_table,
)
from shortlist.evaluation import Dataset, load_beir

SMOKE = {"queries": 1, "n": (2, 4), "m": 2, "repeats": 1, "datasets": "cranfield", "threads": 1}
"""--smoke: every code path once, on a 20-document slice; one thread (timings are moot)."""


def _ints(raw: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in raw.split(",") if x.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 20,50,100; got {raw!r}")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny slice, seconds; for CI")
    p.add_argument(
        "--datasets", default="cranfield,cisi", help="names under ../shared/datasets, or paths"
    )
    p.add_argument("--queries", type=int, default=10, help="queries per dataset (the first Q)")
    p.add_argument("--repeats", type=int, default=1, help="timed calls per query and peer")
    p.add_argument("-n", type=_ints, default=(20, 50, 100), help="candidate counts for stage 2")
    p.add_argument("-m", type=int, default=10, help="results each reranker keeps (top M)")
    p.add_argument(
        "--threads", type=int, default=None, help="torch and ONNX threads (default: theirs)"
    )
    p.add_argument("--stages", default="1,2", help="which stages to run: 1, 2 or 1,2")
    p.add_argument(
        "--out", default=None, help="write the Markdown report here (docs/benchmarks.md)"
    )
    p.add_argument("--json", default=None, help="write the raw numbers here")
    args = p.parse_args(argv)
    if args.smoke:
        args.queries, args.n, args.m = SMOKE["queries"], SMOKE["n"], SMOKE["m"]
        args.repeats, args.datasets = SMOKE["repeats"], SMOKE["datasets"]
        args.threads = args.threads or SMOKE["threads"]
    if args.m > min(args.n):
        p.error(f"-m ({args.m}) must not exceed the smallest N ({min(args.n)})")
    return args


def smoke_slice(data: Dataset, queries: int, size: int = 20) -> Dataset:
    """The first queries, up to half of ``size`` of their judged documents, then others."""
    head = data.head(queries)
    judged = {d for j in head.qrels.values() for d in j}
    docs = [d for d in data.corpus if d.id in judged][: size // 2]
    docs += [d for d in data.corpus if d.id not in judged][: size - len(docs)]
    return Dataset(f"{data.name} (smoke slice)", tuple(docs), head.queries, head.qrels)


def _dataset(name: str, args: argparse.Namespace) -> Dataset:
    path = Path(name) if Path(name).exists() else DATASETS / name
    data = load_beir(path)
    return smoke_slice(data, args.queries) if args.smoke else data.head(args.queries)


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _portable(argv: list[str]) -> list[str]:
    """The arguments as the docs show them: ``--json PATH`` (a side file, often a machine
    path) is left out, since the rerun command only needs to regenerate the page."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif not arg.startswith("--json="):
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    command = "python -m benchmarks.run " + " ".join(
        shlex.quote(a) for a in _portable(list(sys.argv[1:] if argv is None else argv))
    )
    stages = {s.strip() for s in args.stages.split(",")}
    threads: dict[str, Any] = {"requested": args.threads}
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads["torch"] = torch.get_num_threads()
    from benchmarks.stage1 import run_stage1
    from benchmarks.stage2 import load_peers, run_stage2, run_target

    peers = load_peers(args.m, args.threads) if "2" in stages else []
    threads["onnx_intra_op"] = args.threads if args.threads else "physical cores"
    info = machine(threads)
    s1_results, s2_results, datasets, targets = [], [], [], []
    for name in args.datasets.split(","):
        data = _dataset(name.strip(), args)
        datasets.append(data)
        _say(data.describe())
        if "1" in stages:
            index, s1 = run_stage1(data, max(args.repeats, 1), _say)
            s1_results.append(s1)
        else:
            from shortlist.encoders import SentenceTransformerEncoder
            from shortlist.index import Index

            index = Index.build(data.corpus, SentenceTransformerEncoder(BI_ENCODER, device="cpu"))
        if "2" in stages:
            s2_results.append(run_stage2(index, data, peers, args.n, args.repeats, _say))
            if not args.smoke:  # the fixed 100 x ~170-token workload; minutes, so not in CI
                target = run_target(data, peers, args.repeats, _say)
                if target is not None:
                    targets.append(target_table(target, data.name))

    tables = [stage2_table(r, d) for r, d in zip(s2_results, datasets, strict=False)]
    tables += targets
    tables += [stage1_table(r) for r in s1_results]
    checks = [c for r, d in zip(s2_results, datasets, strict=False) for c in parity(r, d)]
    print(json.dumps(info, indent=2))
    for table in tables:
        print("\n" + table.text())
    headline = summary(s2_results, datasets)
    print("\nSummary:\n" + "\n".join(headline))
    print("\nQuality parity:")
    for ok, text in checks:  # too few queries in --smoke to judge quality
        print(f"  [{'ok' if ok else 'differs' if args.smoke else 'FAIL'}] {text}")
    if args.out:
        doc = markdown(command, info, tables, checks, headline, args)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(doc, encoding="utf-8")
        _say(f"wrote {args.out}")
    if args.json:
        raw = {"command": command, "machine": info, "tables": [t.__dict__ for t in tables],
               "parity": [{"ok": ok, "check": text} for ok, text in checks]}  # fmt: skip
        Path(args.json).write_text(json.dumps(raw, indent=2), encoding="utf-8")
    failed = [text for ok, text in checks if not ok]
    return 1 if failed and not args.smoke else 0


if __name__ == "__main__":
    raise SystemExit(main())
