"""The parity check and the model card of an exported reranker folder.

An export is only worth serving if it ranks like the model it came from, so
:func:`measure_parity` scores fixed (query, passage) lists with the torch model and with
the exported folder through the ``onnx`` reranker itself (the tokenizer file, the pair
template and the graph, exactly as served), and :func:`write_card` records the figures in
``shortlist-reranker.json`` and a ``README.md``: which model, how it was exported, which
quantization, which CPU measured the int8 figures (int8 kernels round differently on
AVX-512 VNNI and AVX2-only CPUs).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shortlist._optional import require
from shortlist._version import __version__
from shortlist.cpu import cpu_flags, cpu_model, int8_kind
from shortlist.models import fingerprint, model_name
from shortlist.onnx_export import OPSET, QUANTIZATION
from shortlist.rerank.fusion import best_first

GRAPH = "model.onnx"
CARD = "shortlist-reranker.json"
FLOAT_TOLERANCE = 1e-3
"""Max |logit| difference allowed between the float32 graph and torch. Float32 exports
differ by summation order only (measured 1e-6 to 1e-5 on real and tiny models); a graph
that traced wrong (a sequence length frozen into it, a dropped input) is off by 1e-1 or
more, so the bar sits well between the two."""

PARITY_LISTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "what causes scurvy?",
        (
            "Scurvy is a disease caused by a lack of vitamin C in the diet.",
            "Sailors on long voyages once suffered from scurvy.",
            "Citrus fruits such as oranges and lemons are rich in vitamin C.",
            "The Eiffel Tower is a wrought-iron lattice tower in Paris.",
            "Python is a popular programming language.",
            "The stock market closed higher on Friday.",
        ),
    ),
    (
        "how do wings produce lift?",
        (
            "A wing deflects air downwards, and the reaction pushes the wing up.",
            "Lift depends on the angle of attack, the air density and the speed squared.",
            "Birds flap their wings to fly, while gliders rely on rising air.",
            "The boundary layer is the thin layer of air next to a surface.",
            "Bread is made from flour, water, salt and yeast.",
            "The river flooded the valley after a week of rain.",
        ),
    ),
    (
        "is the free plan allowed to use the API?",
        (
            "API access is available on Pro and Enterprise plans only; the free plan does "
            "not include API keys.",
            "Our pricing plans: Free, Pro and Enterprise. Plans differ in storage and seats.",
            "To create an API key, open the settings page and choose Developer.",
            "The free plan includes 5 GB of storage and one user.",
            "Our office is closed on public holidays.",
            "The cat slept on the warm windowsill all afternoon.",
        ),
    ),
)
"""The check's candidate lists: a few clearly relevant passages, some on the same topic
and some unrelated, so a model has an order to keep in each."""


@dataclass(frozen=True)
class Parity:
    """How one exported graph's logits compare with the torch model's on the check's lists."""

    pairs: int
    lists: int
    max_difference: float  # max |logit(onnx) - logit(torch)|
    mean_difference: float
    lists_in_same_order: int  # lists whose full ranking is identical

    def describe(self, graph: str) -> str:
        """One line for the command's output and the README."""
        return (
            f"{graph} graph vs torch on {self.pairs} pairs: max |logit difference| "
            f"{self.max_difference:.2g} (mean {self.mean_difference:.2g}); ranking identical "
            f"in {self.lists_in_same_order}/{self.lists} candidate lists"
        )


def torch_logits(cross_encoder: Any) -> list[np.ndarray]:
    """The torch model's raw logits for each of :data:`PARITY_LISTS`: the reference."""
    torch = require("torch", feature="Checking an exported cross-encoder", extra="models")
    return [
        np.asarray(
            cross_encoder.predict(
                [(query, text) for text in texts],
                activation_fn=torch.nn.Identity(),
                show_progress_bar=False,
            ),
            dtype=np.float64,
        ).reshape(-1)
        for query, texts in PARITY_LISTS
    ]


def measure_parity(reference: list[np.ndarray], folder: Path) -> Parity:
    """Score :data:`PARITY_LISTS` with the ``onnx`` reranker on ``folder`` and compare the
    logits and rankings with ``reference`` (:func:`torch_logits`)."""
    from shortlist.rerank.onnx import OnnxReranker

    reranker = OnnxReranker(folder, activation="none", threads=1)
    try:
        exported = [reranker.score(query, list(texts)) for query, texts in PARITY_LISTS]
    finally:
        reranker.close()
    diffs = np.concatenate([np.abs(a - b) for a, b in zip(exported, reference, strict=True)])
    same = sum(
        np.array_equal(best_first(a), best_first(b))
        for a, b in zip(exported, reference, strict=True)
    )
    return Parity(
        pairs=int(diffs.size),
        lists=len(reference),
        max_difference=float(diffs.max()),
        mean_difference=float(diffs.mean()),
        lists_in_same_order=int(same),
    )


def write_card(
    folder: Path,
    model: str | os.PathLike[str],
    location: str,
    cross_encoder: Any,
    parity: dict[str, Parity],
    *,
    tolerance: float,
) -> dict[str, Any]:
    """Write ``shortlist-reranker.json`` and ``README.md`` into ``folder``; return the card."""
    quantized = "int8" in parity
    config = cross_encoder.model.config
    card: dict[str, Any] = {
        "format": 1,
        "source": {
            "model": os.fspath(model),
            "name": model_name(model, location, "sentence-transformers"),
            "fingerprint": fingerprint(location),
            "architecture": (getattr(config, "architectures", None) or ["?"])[0],
            "model_type": getattr(config, "model_type", None),
        },
        "graph": {"file": GRAPH, "weights": "int8" if quantized else "float32", "opset": OPSET},
        "quantization": QUANTIZATION if quantized else None,
        "max_length": _max_length(folder),
        "exported_with": _versions(),
        "parity": {
            "lists": [{"query": q, "passages": len(t)} for q, t in PARITY_LISTS],
            "float32_tolerance": tolerance,
            "cpu": {"model": cpu_model(), "flags": cpu_flags(), "int8_kind": int8_kind()},
            **{graph: asdict(figures) for graph, figures in parity.items()},
        },
    }
    (folder / CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(readme(card), encoding="utf-8")
    return card


def parity_lines(card: dict[str, Any]) -> list[str]:
    """The parity figures of a card, one line per graph checked (float32, then int8)."""
    return [
        Parity(**card["parity"][graph]).describe(graph)
        for graph in ("float32", "int8")
        if graph in card["parity"]
    ]


def readme(card: dict[str, Any]) -> str:
    """The human half of the model card (the JSON beside it holds the same facts)."""
    source, graph = card["source"], card["graph"]
    quantization = card["quantization"]
    how = (
        "int8 weights: " + "; ".join(f"{k}: {v}" for k, v in quantization.items())
        if quantization
        else "float32 weights (no quantization)"
    )
    cpu = card["parity"]["cpu"]
    lines = [
        f"# {source['name']} as ONNX for shortlist's `onnx` reranker",
        "",
        f"- Source: `{source['model']}` ({source['architecture']}), "
        f"fingerprint `{source['fingerprint']}`",
        f"- Exported with `shortlist export-reranker` (shortlist "
        f"{card['exported_with']['shortlist']}), torch.onnx, opset {graph['opset']}; "
        f"max_length {card['max_length']}",
        f"- Graph: `{graph['file']}`, {how}",
        '- Use: `load_reranker("onnx:<this folder>")` or `--reranker onnx:<this folder>`',
        "",
        "## Parity with the torch model",
        "",
        f"{len(card['parity']['lists'])} fixed candidate lists scored by the torch model "
        "and by this folder through the `onnx` reranker (float32 graph checked against a "
        f"tolerance of {card['parity']['float32_tolerance']:g} logits before quantizing):",
        "",
        *[f"- {line}" for line in parity_lines(card)],
        "",
        f"Measured on {cpu['model']} ({cpu['flags']}); int8 results differ slightly between "
        "AVX-512 VNNI and AVX2-only CPUs.",
        "",
    ]
    return "\n".join(lines)


def _max_length(folder: Path) -> int | None:
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    value = config.get("model_max_length")
    return int(value) if isinstance(value, int) else None


def _versions() -> dict[str, str]:
    """The versions that decide the graph: the exporter, the model code and the quantizer."""
    found = {"shortlist": __version__}
    for package in ("torch", "transformers", "sentence-transformers", "onnxruntime"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found
