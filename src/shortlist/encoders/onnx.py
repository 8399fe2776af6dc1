"""A bi-encoder on onnxruntime + tokenizers: the query path without torch.

Loading torch and sentence-transformers costs seconds and hundreds of MB before the first
query, only to embed one sentence. This encoder serves the graph that
:func:`shortlist.encoders.export.export_encoder` writes from the user's own
sentence-transformers model and does what sentence-transformers does after the
transformer: truncation at the model's ``max_seq_length``, mean (or CLS) pooling over the
attention mask in float32, then L2 normalisation. The export records the model it came
from (name and file fingerprint), so an index built with the torch encoder accepts this
one as the same model (:func:`shortlist.encoders.identity.check_same_model`).

Threads as in the ONNX reranker (:mod:`shortlist._onnxruntime`): every ``session.run`` is
single-threaded. A query runs on the caller's thread (one short sentence gains nothing from
a thread team, and concurrent searches then use one core each instead of each waking a
team on every core); document batches are spread over ``threads`` runs at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from shortlist._onnxruntime import physical_cores, single_threaded_session
from shortlist._optional import require
from shortlist._validate import positive_int
from shortlist.encoders.base import EncoderBase, check_texts, l2_normalize, progress
from shortlist.errors import InvalidInputError, ModelNotFoundError
from shortlist.models import fingerprint

METADATA = "shortlist-encoder.json"
"""What an export records about itself, beside ``model.onnx`` and ``tokenizer.json``."""

POOLING = ("mean", "cls")
_FEATURE = "The ONNX encoder"


def read_metadata(directory: Path) -> dict[str, Any]:
    """The export's ``shortlist-encoder.json``, checked; a typed error says how to make one."""
    path = directory / METADATA
    needed = (METADATA, "model.onnx", "tokenizer.json")
    missing = [n for n in needed if not (directory / n).is_file()]
    if missing:
        raise ModelNotFoundError(
            f"{directory} is not an ONNX bi-encoder export (missing {', '.join(missing)}). "
            "Make one from your sentence-transformers model with `shortlist export-encoder "
            "MODEL --out DIR` (add --int8 for int8 weights)."
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise InvalidInputError(f"{path} must hold a JSON object.")
    for key, kind in (("name", str), ("dim", int), ("max_seq_length", int), ("pooling", str)):
        if not isinstance(meta.get(key), kind):
            raise InvalidInputError(f"{path}: {key!r} is missing or not a {kind.__name__}.")
    if meta["pooling"] not in POOLING:
        raise InvalidInputError(f"{path}: pooling {meta['pooling']!r} is not one of {POOLING}.")
    return meta


class OnnxEncoder(EncoderBase):
    """A sentence-transformers bi-encoder exported to ONNX (float32 or int8 weights).

    Args:
        model: a folder written by :func:`~shortlist.encoders.export.export_encoder`.
        threads: document batches embedded at once, one thread each; ``None``: one per
            physical core. Queries always take one thread.
        batch_size: documents per ``session.run`` (length-sorted, dynamically padded).
        query_prompt / document_prompt: prefixes for e5/bge-style models, as in
            :class:`~shortlist.encoders.SentenceTransformerEncoder`.
    """

    format = "onnx"

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        threads: int | None = None,
        batch_size: int = 32,
        query_prompt: str = "",
        document_prompt: str = "",
    ) -> None:
        directory = Path(os.fspath(model)).expanduser()
        meta = read_metadata(directory)
        ort = require("onnxruntime", feature=_FEATURE, extra="onnx")
        tokenizers = require("tokenizers", feature=_FEATURE, extra="onnx")
        self.source = str(directory.resolve())
        """The export folder (recorded in manifests as the source hint)."""
        self.fingerprint = fingerprint(directory)
        self.exported_from: str | None = meta.get("exported_from")
        """Fingerprint of the sentence-transformers folder this graph was exported from."""
        self.quantized = bool(meta.get("quantized", False))
        self.normalize = bool(meta.get("normalize", True))
        self.pooling: str = meta["pooling"]
        self.max_seq_length: int = meta["max_seq_length"]
        self.batch_size = positive_int("batch_size", batch_size)
        self.threads = physical_cores() if threads is None else positive_int("threads", threads)
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self._name = meta["name"]  # the model it was exported from: what manifests compare
        self._dim = meta["dim"]
        self._tokenizer: Any = tokenizers.Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_seq_length)
        self._pad_id = int(meta.get("pad_id", 0))
        graph = str(directory / "model.onnx")
        self._session: Any = single_threaded_session(ort, graph, graph)
        self._inputs = tuple(i.name for i in self._session.get_inputs())

    @property
    def spec(self) -> str:
        """``onnx:<folder>``: how to load this encoder again (``load_encoder``, ``--embedder``)."""
        return f"onnx:{self.source}"

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False
    ) -> np.ndarray:
        """Embed documents in length-sorted batches, with an optional progress bar."""
        items = [self.document_prompt + t for t in check_texts(texts)]
        size = self.batch_size if batch_size is None else positive_int("batch_size", batch_size)
        return self._embed(items, size, progress(len(items), show_progress))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (with the query prompt, if any) in one run."""
        items = [self.query_prompt + t for t in check_texts(texts)]
        return self._embed(items, max(len(items), 1), None)

    def _embed(self, items: list[str], batch_size: int, bar: Any) -> np.ndarray:
        out = np.empty((len(items), self._dim), dtype=np.float32)
        if not items:
            return out
        encodings = self._tokenizer.encode_batch(items, add_special_tokens=True)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(items))
        order = np.argsort(lengths, kind="stable")[::-1]  # longest first, as ST does
        batches = [order[i : i + batch_size] for i in range(0, len(items), batch_size)]

        def run(rows: np.ndarray) -> None:
            out[rows] = self._run([encodings[i] for i in rows])
            if bar is not None:
                bar.update(len(rows))

        try:
            if len(batches) == 1 or self.threads == 1:
                for rows in batches:
                    run(rows)
            else:
                with ThreadPoolExecutor(self.threads, thread_name_prefix="shortlist-embed") as pool:
                    list(pool.map(run, batches))  # re-raises a worker's error here
        finally:
            if bar is not None:
                bar.close()
        return l2_normalize(out) if self.normalize else out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for r, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[r, :n] = enc.ids
            types[r, :n] = enc.type_ids
            mask[r, :n] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run(None, {n: feed[n] for n in self._inputs})[0]
        hidden = np.asarray(hidden, dtype=np.float32)
        if self.pooling == "cls":
            return np.ascontiguousarray(hidden[:, 0])
        weights = mask.astype(np.float32)[:, :, None]
        summed = (hidden * weights).sum(axis=1)
        return np.asarray(summed / np.clip(weights.sum(axis=1), 1e-9, None), dtype=np.float32)

    def __repr__(self) -> str:
        kind = "int8" if self.quantized else "float32"
        return f"OnnxEncoder({self._name!r}, dim={self._dim}, {kind}, source={self.source!r})"
