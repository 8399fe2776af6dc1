"""Export a sentence-transformers cross-encoder to the folder the ``onnx`` reranker serves.

One path for both commands that make such a folder: ``shortlist export-reranker`` (any
cross-encoder: BERT, XLM-RoBERTa, DeBERTa-v2, ModernBERT...) and ``shortlist tune`` (the
tuned model, through :func:`export_onnx`). The graph is written by
:func:`shortlist.onnx_export.export_graph`, the exporter ``export-encoder`` uses too:
float32, or int8 weights per channel as the shipped ``ms-marco-MiniLM-L-12-v2-onnx-int8``
graph was made. The tokenizer is saved beside it with the model's ``max_length``, so
``onnx:<dir>`` loads with no torch and truncates where torch does.

:func:`export_reranker` adds what a user needs before trusting the folder: the graph is
scored against the torch model it came from (:mod:`shortlist.rerank.export_card`), a float
graph that drifts is refused with :class:`~shortlist.errors.ExportParityError`, and the
figures go into a model card. It writes beside its destination and moves the folder into
place whole, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from shortlist._optional import require
from shortlist.errors import ExportParityError, InvalidInputError, ModelNotFoundError
from shortlist.models import canonical_id, how_to_get, resolve_model
from shortlist.onnx_export import INPUT_NAMES, export_graph, quantize_graph
from shortlist.rerank.export_card import (
    FLOAT_TOLERANCE,
    GRAPH,
    measure_parity,
    torch_logits,
    write_card,
)

_FEATURE = "Exporting a cross-encoder to ONNX"


def export_reranker(
    model: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    quantize: bool = False,
    tolerance: float = FLOAT_TOLERANCE,
) -> Path:
    """Write ``model`` (a sentence-transformers cross-encoder: hub id or folder) to
    ``out_dir`` as ``model.onnx`` (int8 weights with ``quantize``) + tokenizer + model card
    (``README.md``, ``shortlist-reranker.json`` with the parity figures).

    The float32 graph is always exported and checked first: if its logits differ from
    torch's by more than ``tolerance`` on the check's pairs, :class:`ExportParityError` is
    raised and nothing is written. The int8 graph is quantized from that same graph; its
    difference is measured and recorded, not bounded (int8 moves logits by design).
    Returns ``out_dir``; load it with ``load_reranker("onnx:<out_dir>")``.
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"{out} exists and is not empty; pick a new folder.")
    location = resolve_model(model, "sentence-transformers")
    cross_encoder = load_cross_encoder(model, location)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as tmp:
        staging = Path(tmp) / "export"
        write_onnx(cross_encoder, staging, quantize=False)
        reference = torch_logits(cross_encoder)
        parity = {"float32": measure_parity(reference, staging)}
        worst = parity["float32"].max_difference
        if not worst <= tolerance:  # NaN fails too
            raise ExportParityError(
                f"{model}: the exported float32 graph's logits differ from the torch model's "
                f"by up to {worst:.3g} (tolerance {tolerance:g}); the export would rank wrong, "
                "so nothing was written. Please report the model and this message.",
                max_difference=worst,
                tolerance=tolerance,
            )
        if quantize:
            graph = staging / GRAPH
            quantize_graph(graph, graph.with_suffix(".int8.onnx"), feature=_FEATURE)
            os.replace(graph.with_suffix(".int8.onnx"), graph)
            parity["int8"] = measure_parity(reference, staging)
        write_card(staging, model, location, cross_encoder, parity, tolerance=tolerance)
        if out.exists():
            out.rmdir()  # empty (checked above); os.replace cannot replace a folder
        os.replace(staging, out)
    return out


def export_onnx(
    model_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, quantize: bool = True
) -> Path:
    """Write ``out_dir/model.onnx`` (int8 with ``quantize``, else float32) and the
    tokenizer files, replacing what is there; return ``out_dir``.

    The bare export, without parity check or card: ``shortlist tune`` checks the ranking
    on its own held-out queries and exports again in float32 if int8 does not hold.
    """
    location = resolve_model(model_dir, "sentence-transformers")
    return write_onnx(load_cross_encoder(model_dir, location), Path(out_dir), quantize=quantize)


def load_cross_encoder(model: str | os.PathLike[str], location: str) -> Any:
    """The sentence-transformers ``CrossEncoder`` at ``location`` on CPU, refused unless it
    has a trained head with one logit (sentence-transformers would add a random head to a
    bare encoder, and an export of that would rank at random)."""
    st = require("sentence_transformers", feature=_FEATURE, extra="models")
    try:
        cross_encoder = st.CrossEncoder(location, device="cpu")
    except OSError as exc:  # hub unreachable / not a model: say what to do instead
        raise ModelNotFoundError(
            f"Could not load cross-encoder {os.fspath(model)!r}: {exc}. To fix: "
            f"{how_to_get(canonical_id(os.fspath(model)), 'sentence-transformers')}."
        ) from exc
    heads = getattr(cross_encoder.model.config, "architectures", None) or []
    if heads and not any(h.endswith("ForSequenceClassification") for h in heads):
        raise InvalidInputError(
            f"{os.fspath(model)!r} is not a cross-encoder: its config names {heads}, with no "
            "relevance head, so the export would score with a random one. Export a "
            "bi-encoder with `shortlist export-encoder` instead."
        )
    labels = int(getattr(cross_encoder, "num_labels", 1))
    if labels != 1:
        raise InvalidInputError(
            f"{os.fspath(model)!r} outputs {labels} labels per pair; a reranker needs a model "
            "with a single relevance logit (num_labels=1)."
        )
    return cross_encoder


def write_onnx(cross_encoder: Any, out: Path, *, quantize: bool) -> Path:
    """``out/model.onnx`` and the tokenizer files of a loaded ``CrossEncoder``."""
    tokenizer, model = cross_encoder.tokenizer, cross_encoder.model
    sample = tokenizer(
        ["a query", "another query"],
        ["a document to score", "a second, longer document to score"],
        padding=True,
        return_tensors="pt",
    )
    accepted = inspect.signature(model.forward).parameters
    names = [n for n in INPUT_NAMES if n in sample and n in accepted]
    export_graph(
        _logits_only(model, names),
        {n: sample[n] for n in names},
        out / GRAPH,
        output="logits",
        output_axes={0: "batch"},
        quantize=quantize,
        feature=_FEATURE,
    )
    tokenizer.save_pretrained(os.fspath(out))
    if not (out / "tokenizer.json").is_file():
        raise InvalidInputError(
            "the model's tokenizer has no fast (tokenizers) version to save as "
            "tokenizer.json, which the ONNX reranker needs."
        )
    model.config.to_json_file(os.fspath(out / "config.json"))
    limit = getattr(cross_encoder, "max_seq_length", None) or cross_encoder.max_length
    _pin_max_length(out / "tokenizer_config.json", int(limit or 512))
    return out


def _logits_only(model: Any, names: list[str]) -> Any:
    """``model`` as a torch module taking ``names`` positionally and returning the logits.

    Models disagree on their positional order (ModernBERT's third argument is not
    ``token_type_ids``), so the inputs are passed by name, and only the tensor the graph
    outputs is returned.
    """
    torch = require("torch", feature=_FEATURE, extra="models")

    class LogitsOnly(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *inputs: Any) -> Any:
            return self.inner(**dict(zip(names, inputs, strict=True))).logits

    return LogitsOnly()


def _pin_max_length(path: Path, max_length: int) -> None:
    """Make the ONNX backend truncate where the torch model does (a tuned model's
    ``max_length`` is often shorter than the tokenizer's 512, and the ONNX backend reads
    its limit from tokenizer_config.json)."""
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    config["model_max_length"] = max_length
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
