"""Export a sentence-transformers bi-encoder to the ONNX folder ``OnnxEncoder`` serves.

The graph is the transformer alone (``last_hidden_state``); pooling and normalisation are
read from the model's own modules and redone in NumPy by the encoder, so the folder needs
no torch to use. Models with layers after pooling (a Dense projection, for example) are
refused rather than exported wrong. The folder is written beside its destination and
moved into place whole, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from shortlist._optional import require
from shortlist.encoders.onnx import METADATA
from shortlist.errors import InvalidInputError
from shortlist.models import fingerprint, model_name, resolve_model
from shortlist.onnx_export import export_graph

_FEATURE = "Exporting a bi-encoder to ONNX"
_SUPPORTED = {"Transformer", "Pooling", "Normalize"}


def export_encoder(
    model: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    quantize: bool = False,
) -> Path:
    """Write ``model`` (a sentence-transformers hub id or folder) to ``out_dir`` as
    ``model.onnx`` (int8 weights with ``quantize``) + tokenizer + ``shortlist-encoder.json``.

    Returns ``out_dir``; load it with ``load_encoder("onnx:<out_dir>")``.
    """
    st = require("sentence_transformers", feature=_FEATURE, extra="models")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"{out} exists and is not empty; pick a new folder.")
    location = resolve_model(model, "sentence-transformers")
    encoder = st.SentenceTransformer(location, device="cpu")
    kinds = [type(m).__name__ for m in encoder]
    if kinds[:2] != ["Transformer", "Pooling"] or not set(kinds) <= _SUPPORTED:
        raise InvalidInputError(
            f"{model}: modules {kinds} cannot be exported; the ONNX encoder supports "
            "Transformer -> Pooling (mean or CLS) [-> Normalize]."
        )
    pooling = _pooling(encoder[1])  # an unsupported pooling fails before the export
    transformer = encoder[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as tmp:
        staging = Path(tmp) / "export"
        sample = transformer.tokenizer(
            ["a query", "a second, longer text to embed"], padding=True, return_tensors="pt"
        )
        export_graph(
            _hidden_states(transformer.auto_model),
            sample,
            staging / "model.onnx",
            output="last_hidden_state",
            output_axes={0: "batch", 1: "sequence"},
            quantize=quantize,
            feature=_FEATURE,
        )
        transformer.tokenizer.save_pretrained(os.fspath(staging))
        if not (staging / "tokenizer.json").is_file():
            raise InvalidInputError(
                f"{model}: its tokenizer has no fast (tokenizers) version to save, which the "
                "ONNX encoder needs."
            )
        meta = _metadata(model, location, encoder, pooling, quantize=quantize)
        (staging / METADATA).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty (checked above); os.replace cannot replace a folder
        os.replace(staging, out)
    return out


def _metadata(
    model: Any, location: Any, encoder: Any, pooling: str, *, quantize: bool
) -> dict[str, Any]:
    """``shortlist-encoder.json``: what the ONNX encoder needs to embed as ``encoder`` does,
    and the fingerprint that lets an index built with ``model`` accept the export."""
    return {
        "format": 1,
        "name": model_name(model, location, "sentence-transformers"),
        "exported_from": fingerprint(location),
        "dim": _dim(encoder),
        "pooling": pooling,
        "normalize": "Normalize" in [type(m).__name__ for m in encoder],
        "max_seq_length": int(encoder.max_seq_length),
        "pad_id": int(encoder[0].tokenizer.pad_token_id or 0),
        "quantized": quantize,
    }


def _dim(encoder: Any) -> int:
    getter = getattr(encoder, "get_embedding_dimension", None)  # sentence-transformers >= 5.2
    return int(getter() if getter else encoder.get_sentence_embedding_dimension())


def _pooling(module: Any) -> str:
    """``"mean"`` or ``"cls"`` from a sentence-transformers Pooling module, else refuse."""
    mode = getattr(module, "pooling_mode", None)
    if mode is None:  # older sentence-transformers: flags instead of a mode name
        flags = module.get_config_dict()
        mode = "mean" if flags.get("pooling_mode_mean_tokens") else None
        mode = "cls" if flags.get("pooling_mode_cls_token") else mode
    if mode not in ("mean", "cls"):
        raise InvalidInputError(f"pooling {mode!r} is not supported by the ONNX encoder.")
    return str(mode)


def _hidden_states(auto_model: Any) -> Any:
    """``auto_model`` as a torch module returning only ``last_hidden_state`` (one output)."""
    torch = require("torch", feature=_FEATURE, extra="models")

    class HiddenStates(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.inner = auto_model

        def forward(self, *inputs: Any) -> Any:
            names = ("input_ids", "attention_mask", "token_type_ids")
            return self.inner(**dict(zip(names, inputs, strict=False))).last_hidden_state

    return HiddenStates()
