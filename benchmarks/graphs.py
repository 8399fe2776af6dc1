"""Candidate reranker graphs on the fixed workload: wall time, operator profile, parity.

    python -m benchmarks.graphs --check                  # build each candidate, score 5 pairs
    python -m benchmarks.graphs                          # time every candidate (3 repeats)
    python -m benchmarks.graphs --candidates shipped,no-skipln,static-qdq+no-skipln --profile

The fixed workload (Cranfield's first query and 100 documents of 150-190 tokens, as
``benchmarks.serving --parts gemm``) is scored by the ``onnx`` backend's own OnnxReranker
(length-sorted batches of one pair, ``--threads`` single-threaded runs at once); only the
session under it changes. Each candidate scores the 100 pairs once untimed (warm-up, and its
logits for parity), then ``--repeats`` times, interleaved with the others (each repeat starts
one candidate later) so drift hits all alike. ``--profile`` adds onnxruntime's operator
profile (OpenVINO's performance counters for OpenVINO) of the same pairs on one thread.

Parity is against the shipped graph with ``dequantize=True`` (its int8 weights, float32
activations): max |logit difference| and top-10 overlap on the same pairs. Static graphs are
calibrated on MEDLINE (each query with its BM25 top 4), so Cranfield is out of sample. Any
onnxruntime candidate takes a ``+no-skipln`` suffix (SkipLayerNormFusion left out). Graphs
are built once into ``$SHORTLIST_GRAPH_CACHE`` (default ``~/.cache/shortlist-graphs``; delete a
candidate's folder there to rebuild it), never into the repository. Run it alone: every
figure is a wall-clock time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from benchmarks.common import CROSS_ENCODER, CROSS_ENCODER_ONNX, DATASETS, SHARED, Table, machine
from benchmarks.serving import fixed_requests

CACHE = Path(os.environ.get("SHORTLIST_GRAPH_CACHE", Path.home() / ".cache" / "shortlist-graphs"))
GRAPH, NO_SKIPLN = "model.onnx", "+no-skipln"
HEADS, HIDDEN = 12, 384  # ms-marco-MiniLM-L-12-v2
CALIBRATION_TOP = 4  # MEDLINE's 30 queries x their BM25 top 4 = 120 calibration pairs
Feed = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A graph file and how to run it. Every candidate uses the shipped tokenizer."""

    name: str
    graph: Path
    disabled: tuple[str, ...] = ()  # onnxruntime graph optimizers left out
    openvino: str | None = None  # OpenVINO's INFERENCE_PRECISION_HINT; None: onnxruntime
    note: str = ""


def _cached(name: str, make: Callable[[Path], str]) -> tuple[Path, str]:
    """``CACHE/name/model.onnx``, made by ``make(folder)`` (which returns a note) unless
    there; build.json is written last, so a half-built folder is built again."""
    folder = CACHE / name
    if not (folder / "build.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        t0 = time.perf_counter()
        meta = {"note": make(folder), "build_s": round(time.perf_counter() - t0, 1)}
        for scratch in (f for f in folder.glob("*.onnx") if f.name != GRAPH):
            scratch.unlink()
        (folder / "build.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder / GRAPH, json.loads((folder / "build.json").read_text())["note"]


def _graph(
    name: str, make: Callable[[Path], str], disabled: tuple[str, ...] = ()
) -> Callable[[], Candidate]:
    """A candidate that ``make`` builds into the cache, run by onnxruntime."""

    def build() -> Candidate:
        graph, note = _cached(name, make)
        return Candidate(name, graph, disabled, note=note)

    return build


def _float_graph() -> Path:
    """The torch checkpoint exported to float32 by shortlist's exporter (write_onnx), with
    eager attention: the default SDPA export adds IsNaN/Where to every layer, and ONNX
    Runtime's transformer optimizer then fuses no Attention and no EmbedLayerNormalization."""

    def make(out: Path) -> str:
        from sentence_transformers import CrossEncoder

        from shortlist.rerank.export import write_onnx

        eager = {"attn_implementation": "eager"}
        write_onnx(CrossEncoder(str(CROSS_ENCODER), device="cpu", model_kwargs=eager), out,
                   quantize=False)  # fmt: skip
        return f"float32 export of {CROSS_ENCODER.name}, eager attention (write_onnx)"

    return _cached("float32", make)[0]


def shipped() -> Candidate:
    return Candidate(
        "shipped", CROSS_ENCODER_ONNX / GRAPH, note="load_reranker('onnx:...?fusions=all')"
    )


def _fused(name: str, skip_layer_norm: bool) -> Callable[[], Candidate]:
    """ONNX Runtime's BERT fusions on the float graph, then shortlist's int8 recipe; without
    ``skip_layer_norm`` the residual LayerNorms stay unfused (ORT's own fusion of them too)."""

    def make(out: Path) -> str:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        options = FusionOptions("bert")
        options.enable_skip_layer_norm = options.enable_bias_skip_layer_norm = skip_layer_norm
        fused = optimize_model(str(_float_graph()), "bert", num_heads=HEADS, hidden_size=HIDDEN,
                               optimization_options=options, opt_level=1)  # fmt: skip
        stats = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
        fused.save_model_to_file(str(out / "fused.onnx"))
        # shortlist.onnx_export.quantize_graph's recipe, plus a default type for the outputs
        # of the contrib ops (Attention, SkipLayerNormalization) ONNX shape inference skips
        extra = {"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT}
        quantize_dynamic(out / "fused.onnx", out / GRAPH, per_channel=True,
                         weight_type=QuantType.QInt8, extra_options=extra)  # fmt: skip
        return f"optimize_model(bert, opt_level=1) {stats}, then quantize_graph's recipe"

    return _graph(name, make, () if skip_layer_norm else ("SkipLayerNormFusion",))


def _static(
    name: str, form: str, weights_only: bool = False, quantized_out: bool = False
) -> Callable[[], Candidate]:
    """quantize_static, MatMuls only: weights int8 per channel, activations uint8 with
    MinMax ranges from MEDLINE. ``quantized_out`` also quantizes each MatMul's output (ORT's
    default; QOperator always does); otherwise the MatMuls' outputs stay float32."""

    def make(out: Path) -> str:
        import onnx
        from onnxruntime import quantization as q
        from onnxruntime.quantization.shape_inference import quant_pre_process

        # symbolic shape inference gives up on this graph; ONNX's own shape inference works
        quant_pre_process(str(_float_graph()), str(out / "pre.onnx"), skip_symbolic_shape=True)
        graph = onnx.load(str(out / "pre.onnx")).graph
        weights = {t.name for t in graph.initializer}
        linear = [n.name for n in graph.node if n.op_type == "MatMul" and set(n.input) & weights]
        extra: dict[str, Any] = {"WeightSymmetric": True, "ActivationSymmetric": False}
        if not quantized_out:
            extra["OpTypesToExcludeOutputQuantization"] = ["MatMul"]
        ranges = CACHE / "calibration-medline-minmax.json"  # shared by every static graph
        reader = None if ranges.is_file() else _calibration_reader(q.CalibrationDataReader)
        q.quantize_static(
            str(out / "pre.onnx"), str(out / GRAPH), reader, quant_format=q.QuantFormat[form],
            op_types_to_quantize=["MatMul"], nodes_to_quantize=linear if weights_only else None,
            per_channel=True, reduce_range=False, activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8, calibrate_method=q.CalibrationMethod.MinMax,
            extra_options=extra, calibration_cache_path=ranges,
        )  # fmt: skip
        which = f"the {len(linear)} weight MatMuls" if weights_only else "every MatMul"
        outs = "quantized" if quantized_out or form == "QOperator" else "float32"
        return (
            f"quantize_static {form}, {which}: int8 weights per channel, uint8 activations "
            f"(MinMax, MEDLINE x BM25 top {CALIBRATION_TOP}), {outs} MatMul outputs"
        )

    return _graph(name, make)


def _openvino(name: str, source: str, precision: str) -> Callable[[], Candidate]:
    def build() -> Candidate:
        import openvino as ov  # not a dependency: the candidate fails to build without it

        units = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        hint = "f32" if precision == "bf16" and "BF16" not in units else precision
        if source == "dequantized":
            from shortlist.rerank.dequantize import dequantize_matmuls

            def make(out: Path) -> str:
                (out / GRAPH).write_bytes(dequantize_matmuls(str(CROSS_ENCODER_ONNX / GRAPH)))
                return "the shipped graph's MatMuls in float32 (dequantize_matmuls)"

            graph = _cached("dequantized", make)[0]
        else:
            graph = CANDIDATES[source]().graph
        return Candidate(name, graph, openvino=hint, note=f"OpenVINO on {source} graph, {hint}")

    return build


CANDIDATES: dict[str, Callable[[], Candidate]] = {
    "shipped": shipped,
    "no-skipln": lambda: dataclasses.replace(
        shipped(), name="no-skipln", disabled=("SkipLayerNormFusion",),
        note="shipped graph, disabled_optimizers=['SkipLayerNormFusion']"),
    "fused-then-int8": _fused("fused-then-int8", skip_layer_norm=True),
    "fused-no-skipln": _fused("fused-no-skipln", skip_layer_norm=False),
    "static-qdq": _static("static-qdq", "QDQ"),
    "static-qdq-weights": _static("static-qdq-weights", "QDQ", weights_only=True),
    "static-qdq-qout": _static("static-qdq-qout", "QDQ", quantized_out=True),
    "static-qoperator": _static("static-qoperator", "QOperator"),
    "openvino-bf16": _openvino("openvino-bf16", "dequantized", "bf16"),
    "openvino-int8": _openvino("openvino-int8", "shipped", "f32"),
    "openvino-qdq": _openvino("openvino-qdq", "static-qdq", "f32"),
    "openvino-qdq-bf16": _openvino("openvino-qdq-bf16", "static-qdq", "bf16"),
}  # fmt: skip


def _feeds(query: str, texts: list[str]) -> list[Feed]:
    """The feeds OnnxReranker makes for these pairs (its tokenization and batching)."""
    from shortlist.rerank.onnx import OnnxReranker

    feeds: list[Feed] = []

    def record(_outputs: Any, feed: Feed) -> list[np.ndarray]:
        feeds.append(feed)
        return [np.zeros((len(feed["input_ids"]), 1), dtype=np.float32)]

    reranker = OnnxReranker(CROSS_ENCODER_ONNX, threads=1)
    reranker._session = SimpleNamespace(run=record)
    reranker.score(query, texts)
    return feeds


def _calibration_reader(base: type) -> Any:
    """A CalibrationDataReader over MEDLINE's queries, each with its BM25 top documents."""
    import bm25s

    from shortlist.evaluation import load_beir

    data = load_beir(DATASETS / "medline")
    texts, queries = [d.text for d in data.corpus], list(data.queries.values())
    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    tokens = bm25s.tokenize(queries, stopwords="en", show_progress=False)
    top, _ = bm25.retrieve(tokens, k=CALIBRATION_TOP, show_progress=False)
    pairs = [(q, [texts[i] for i in ids]) for q, ids in zip(queries, top, strict=True)]
    feeds = iter([feed for q, docs in pairs for feed in _feeds(q, docs)])
    return type("MedlinePairs", (base,), {"get_next": lambda self: next(feeds, None)})()


class _OpenVino:
    """An OpenVINO compiled model behind the calls OnnxReranker makes of a session: one
    stream of one thread per ``threads``, one infer request per calling thread."""

    def __init__(self, graph: Path, hint: str, threads: int, profile: bool) -> None:
        import openvino as ov

        config = {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads,
                  "NUM_STREAMS": threads, "PERF_COUNT": profile}  # fmt: skip
        self._model = ov.Core().compile_model(str(graph), "CPU", config)
        self._local = threading.local()
        self.profile = profile
        self.ops: dict[str, tuple[float, int]] = {}  # "type (kernel)" -> (microseconds, calls)

    def get_inputs(self) -> list[Any]:
        return [SimpleNamespace(name=port.get_any_name()) for port in self._model.inputs]

    def run(self, _outputs: Any, feed: Feed) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._model.create_infer_request()
        request.infer(feed)
        for info in request.profiling_info if self.profile else ():
            if info.status.name == "EXECUTED":
                key = f"{info.node_type} ({info.exec_type})"
                us, n = self.ops.get(key, (0.0, 0))
                self.ops[key] = (us + info.real_time.total_seconds() * 1e6, n + 1)
        return [request.get_output_tensor(0).data.copy()]


def _shown(path: Path) -> str:
    """A graph's path as results files record it: relative to the shared folder or the
    home directory, never this machine's absolute path."""
    for root, name in ((SHARED, "../shared"), (Path.home(), "~")):
        if path.is_relative_to(root):
            return f"{name}/{path.relative_to(root)}"
    return path.name


def _session(candidate: Candidate, threads: int, profile_prefix: str | None = None) -> Any:
    """The candidate's session: shortlist's own single-threaded ORT session (the options
    load_reranker uses) with its optimizers left out and profiling when asked; or OpenVINO."""
    if candidate.openvino is not None:
        return _OpenVino(candidate.graph, candidate.openvino, threads, profile_prefix is not None)
    import onnxruntime as ort

    from shortlist._onnxruntime import single_threaded_session

    def options() -> Any:
        made = ort.SessionOptions()
        if profile_prefix is not None:
            made.enable_profiling, made.profile_file_prefix = True, profile_prefix
        return made

    def session(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("disabled_optimizers", None)  # the candidate says which, not the CPU
        return ort.InferenceSession(*args, disabled_optimizers=list(candidate.disabled), **kwargs)

    shim = SimpleNamespace(
        SessionOptions=options, InferenceSession=session,
        GraphOptimizationLevel=ort.GraphOptimizationLevel, ExecutionMode=ort.ExecutionMode,
    )  # fmt: skip
    return single_threaded_session(shim, str(candidate.graph), str(candidate.graph))


def _reranker(candidate: Candidate, threads: int) -> Any:
    """OnnxReranker (raw logits) running the candidate's session; for ``shipped``, exactly
    what load_reranker builds with every onnxruntime fusion (the graph before ``auto``)."""
    from shortlist.rerank import load_reranker

    reranker: Any = load_reranker(
        f"onnx:{CROSS_ENCODER_ONNX}?fusions=all", activation="none", threads=threads
    )
    if candidate.name != "shipped":
        reranker._session = _session(candidate, threads)
        reranker._inputs = tuple(i.name for i in reranker._session.get_inputs())
    return reranker


def _profile(candidate: Candidate, feeds: list[Feed]) -> dict[str, dict[str, float]]:
    """Per operator type (after the runtime's fusions): share of kernel time, calls and
    microseconds per call, running ``feeds`` one after another on one thread."""
    with tempfile.TemporaryDirectory() as tmp:
        session = _session(candidate, 1, profile_prefix=str(Path(tmp) / "profile"))
        for feed in feeds:
            session.run(None, {i.name: feed[i.name] for i in session.get_inputs()})
        totals: dict[str, tuple[float, int]] = getattr(session, "ops", {})
        for event in [] if totals else json.loads(Path(session.end_profiling()).read_text()):
            if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                us, n = totals.get(event["args"]["op_name"], (0.0, 0))
                totals[event["args"]["op_name"]] = (us + event["dur"], n + 1)
    whole = sum(us for us, _ in totals.values()) or 1.0
    return {
        op: {"share": 100 * us / whole, "calls_per_pair": n / len(feeds), "us_per_call": us / n}
        for op, (us, n) in sorted(totals.items(), key=lambda kv: -kv[1][0])
    }


def _parity(got: np.ndarray, ref: np.ndarray) -> dict[str, Any]:
    k = min(10, len(ref))
    top, top_ref = (set(np.argsort(-x, kind="stable")[:k]) for x in (got, ref))
    ranks = [np.argsort(np.argsort(x)) for x in (got, ref)]
    return {"max_logit_diff": float(np.max(np.abs(got - ref))), "top10_overlap": len(top & top_ref),
            "top_k": k, "spearman": float(np.corrcoef(ranks[0], ranks[1])[0, 1])}  # fmt: skip


def _build(name: str) -> Candidate:
    base = CANDIDATES[name.removesuffix(NO_SKIPLN)]()
    if not name.endswith(NO_SKIPLN):
        return base
    if base.openvino:
        raise ValueError(f"{NO_SKIPLN} is an onnxruntime option; {base.name} runs on OpenVINO")
    disabled = (*base.disabled, "SkipLayerNormFusion")
    return dataclasses.replace(base, name=name, disabled=disabled, note=f"{base.note}, {disabled}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.graphs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="single-threaded runs at once")
    p.add_argument("--profile", action="store_true", help="operator profiles, one thread")
    p.add_argument("--check", type=int, nargs="?", const=5, metavar="PAIRS",
                   help="build; score PAIRS pairs (5) vs the reference; no timing")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("docs/results/serving"),
                   help="graphs.json/.md (graphs-Nthreads.* for --threads N > 1)")  # fmt: skip
    args = p.parse_args(argv)
    names = [n.strip() for n in args.candidates.split(",") if n.strip()]
    if unknown := [n for n in names if n.removesuffix(NO_SKIPLN) not in CANDIDATES]:
        p.error(f"unknown candidates {unknown}; choose from {list(CANDIDATES)} (+no-skipln)")
    command = "python -m benchmarks.graphs " + shlex.join(sys.argv[1:] if argv is None else argv)
    info = machine({"parallel_runs": args.threads, "intra_op_threads_per_run": 1})
    query, texts = fixed_requests(1)[0]
    texts = texts[: args.check] if args.check else texts
    from shortlist.rerank.onnx import OnnxReranker

    reference = OnnxReranker(CROSS_ENCODER_ONNX, dequantize=True, activation="none", threads=1)
    ref = reference.score(query, texts)
    built, rerankers, results, failed = {}, {}, {}, {}
    for name in names:  # a candidate that fails is reported, and the others go on
        try:
            built[name] = c = _build(name)
            rerankers[name] = _reranker(c, args.threads)
            logits = rerankers[name].score(query, texts)  # warm-up, and the logits for parity
        except Exception as exc:
            traceback.print_exc()
            failed[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            rerankers.pop(name, None)
            continue
        results[name] = {"graph": _shown(c.graph), "bytes": c.graph.stat().st_size, "note": c.note,
                         "runtime": f"openvino {c.openvino}" if c.openvino else "onnxruntime",
                         "disabled_optimizers": list(c.disabled), **_parity(logits, ref),
                         "logits": [round(float(x), 4) for x in logits] if args.check else None,
                         "wall_s": [], "cpu_s": []}  # fmt: skip
        print(f"ready: {name} ({c.graph})", file=sys.stderr, flush=True)
    order = list(rerankers)
    for rep in range(0 if args.check else args.repeats):
        for name in order[rep % len(order) :] + order[: rep % len(order)]:
            w0, c0 = time.perf_counter(), time.process_time()
            rerankers[name].score(query, texts)
            results[name]["wall_s"].append(time.perf_counter() - w0)
            results[name]["cpu_s"].append(time.process_time() - c0)
        print(f"repeat {rep + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    if args.profile:
        feeds = _feeds(query, texts)
        for name in order:
            results[name]["profile"] = _profile(built[name], feeds)
    tables = _tables(results, failed, args.check)
    print("\n\n".join(t.text() for t in tables))
    if args.check:
        print(json.dumps({"reference": [round(float(x), 4) for x in ref]}))
        return 1 if failed else 0
    args.out.mkdir(parents=True, exist_ok=True)
    raw = {"command": command, "machine": info, "query": query, "pairs": len(texts),
           "repeats": args.repeats, "reference": "shipped graph, dequantize=True",
           "candidates": results, "failed": failed}  # fmt: skip
    stem = "graphs" if args.threads == 1 else f"graphs-{args.threads}threads"
    (args.out / f"{stem}.json").write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    intro = (
        f"# Reranker graph candidates\n\nGenerated by `{command}` on {info['cpu']} "
        f"({info['logical_cores']} logical, {info['physical_cores']} physical cores; "
        f"{info['cpu_flags']}; load {info['load_average_at_start']} at start). The fixed "
        f"workload: {len(texts)} Cranfield documents of 150-190 tokens and one query, scored by "
        f"OnnxReranker (batches of one pair, {args.threads} single-threaded run(s) at once); "
        f"best and median of {args.repeats} interleaved repeats. Parity: against the shipped "
        "graph with `dequantize=True` on the same pairs. Static graphs: calibrated on MEDLINE."
    )
    md = "\n\n".join([intro, *(t.markdown() for t in tables)]) + "\n"
    (args.out / f"{stem}.md").write_text(md, encoding="utf-8")
    return 1 if failed else 0


def _tables(results: dict[str, Any], failed: dict[str, str], check: int | None) -> list[Table]:
    base = min(results.get("shipped", {}).get("wall_s") or [float("nan")])
    head = ["candidate", "best s", "median s", "best vs shipped", "CPU s (median)"]
    head = head[:1] if check else head
    head += ["max |logit diff|", "top-10 overlap", "Spearman", "graph MiB", "runtime", "how built"]
    rows = []
    for name, r in results.items():
        walls, cpus = r["wall_s"] or [float("nan")], r["cpu_s"] or [float("nan")]
        timing = [f"{min(walls):.3f}", f"{np.median(walls):.3f}",
                  f"{min(walls) / base:.3f}x", f"{np.median(cpus):.3f}"]  # fmt: skip
        rows.append([name, *([] if check else timing), f"{r['max_logit_diff']:.3f}",
                     f"{r['top10_overlap']}/{r['top_k']}", f"{r['spearman']:.4f}",
                     f"{r['bytes'] / 2**20:.1f}", r["runtime"], r["note"]])  # fmt: skip
    rows += [[n, "failed", *[""] * (len(head) - 3), e] for n, e in failed.items()]
    pairs = f"{check} pairs, no timing" if check else "100 pairs"
    tables = [Table(f"Candidates on the fixed workload ({pairs})", head, rows)]
    for name, r in results.items():
        if r.get("profile"):
            prof = [[op, f"{v['share']:.1f} %", f"{v['calls_per_pair']:.1f}",
                     f"{v['us_per_call']:.0f}"] for op, v in r["profile"].items()]  # fmt: skip
            head = ["op (after the runtime's fusions)", "share", "calls/pair", "µs/call"]
            tables.append(Table(f"Operator profile: {name} (1 thread)", head, prof))
    return tables


if __name__ == "__main__":
    raise SystemExit(main())
