"""Cross-encoder reranking with sentence-transformers (torch): any HF sequence-classifier.

The model's logits are computed with an identity activation and mapped to scores here
(:func:`~shortlist.rerank.base.apply_activation`), so the score scale is decided by our
``activation`` option and not by whatever default a checkpoint's config carries.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from shortlist import defaults
from shortlist._optional import require
from shortlist._validate import int_at_least, positive_int
from shortlist.errors import InvalidInputError, ModelNotFoundError
from shortlist.models import canonical_id, how_to_get, resolve_model
from shortlist.rerank.base import Reranker, apply_activation, check_activation
from shortlist.rerank.windows import WindowOptions, best_per_text, span_text, window_spans
from shortlist.spec import format_spec

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "cross-encoder/ms-marco-MiniLM-L-12-v2"


def auto_device() -> str:
    """The fastest available torch device: ``cuda`` > ``mps`` > ``cpu``."""
    torch = require("torch", feature="The cross-encoder reranker")
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _check_sizes(batch_size: object, max_length: object) -> tuple[int, int | None]:
    """Validated (batch_size, max_length): at construction and in ``preflight`` alike."""
    return (
        positive_int("batch_size", batch_size),
        int_at_least("max_length", max_length, 8, allow_none=True),
    )


class CrossEncoderReranker(Reranker):
    """A sentence-transformers ``CrossEncoder`` with one relevance logit per pair.

    Args:
        model: hub id (``cross-encoder/ms-marco-MiniLM-L-6-v2``) or local directory;
            resolved offline first (:func:`shortlist.models.resolve_model`).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; ``None`` picks
            cuda > mps > cpu.
        batch_size: pairs per forward pass (sentence-transformers length-sorts them).
        max_length: token limit per (query, text) pair; ``None`` keeps the model's own.
        activation: ``"sigmoid"`` (default, scores in 0..1) or ``"none"`` (raw logits).
        long_documents / window_tokens / window_stride: see :mod:`shortlist.rerank.windows`.
        trust_remote_code: allow custom modelling code from the model repository. A Python
            keyword only: a spec string cannot carry it (so a config file or ``--reranker``
            cannot switch it on), and :attr:`spec` leaves it out.
    """

    backend = "cross-encoder"
    default_fusion = defaults.FUSION  # the MS MARCO model alone ranks below hybrid stage 1

    @classmethod
    def preflight(cls, options: Mapping[str, Any]) -> None:
        """Option values and the model's location, without torch or the weights."""
        _check_sizes(options.get("batch_size", 32), options.get("max_length"))
        check_activation(options.get("activation", "sigmoid"))
        WindowOptions.of(options)
        resolve_model(options.get("model", DEFAULT_MODEL), "sentence-transformers")

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        activation: str = "sigmoid",
        long_documents: str = "truncate",
        window_tokens: int | None = None,
        window_stride: int | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        st = require("sentence_transformers", feature="The cross-encoder reranker")
        torch = require("torch", feature="The cross-encoder reranker")
        self.batch_size, self._max_length_given = _check_sizes(batch_size, max_length)
        self.activation = check_activation(activation)
        self.windows = WindowOptions(long_documents, window_tokens, window_stride)  # type: ignore[arg-type]
        self.device = device or auto_device()
        self.trust_remote_code = trust_remote_code
        self.model_name = os.fspath(model)
        location = resolve_model(model, "sentence-transformers")
        try:
            self._model: Any = st.CrossEncoder(
                location,
                device=self.device,
                max_length=max_length,
                trust_remote_code=trust_remote_code,
            )
        except OSError as exc:  # hub unreachable / not a model: say what to do instead
            hub_id = canonical_id(self.model_name)
            raise ModelNotFoundError(
                f"Could not load cross-encoder {self.model_name!r}: {exc}. "
                f"To fix: {how_to_get(hub_id, 'sentence-transformers')}."
            ) from exc
        num_labels = int(getattr(self._model, "num_labels", 1))
        if num_labels != 1:
            raise InvalidInputError(
                f"{self.model_name!r} outputs {num_labels} labels per pair; a reranker needs a "
                "model with a single relevance logit (num_labels=1)."
            )
        limit = getattr(self._model, "max_seq_length", None) or getattr(
            self._model, "max_length", None
        )
        self.max_length = int(limit or 512)
        self._identity = torch.nn.Identity()
        self._tokenizer = _fast_tokenizer(self._model) if self.windows.windows else None

    def __repr__(self) -> str:
        return (
            f"CrossEncoderReranker(model={self.model_name!r}, device={self.device!r}, "
            f"batch_size={self.batch_size}, max_length={self.max_length}, "
            f"activation={self.activation!r}, long_documents={self.windows.mode!r})"
        )

    @property
    def spec(self) -> str:
        """This reranker as a :func:`~shortlist.rerank.load_reranker` spec: the model as
        given, plus every option that changes scores (device and batch size do not)."""
        return format_spec(
            self.backend,
            self.model_name,
            {
                "max_length": self._max_length_given,
                "activation": None if self.activation == "sigmoid" else self.activation,
                "long_documents": None if self.windows.mode == "truncate" else self.windows.mode,
                "window_tokens": self.windows.window_tokens,
                "window_stride": self.windows.window_stride,
            },
        )

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        if self._tokenizer is None:
            return apply_activation(self._logits(query, texts), self.activation)
        windows, owners = self._windows(self._tokenizer, query, texts)
        logits = self._logits(query, windows)
        best = best_per_text(logits, np.asarray(owners), len(texts))
        return apply_activation(best, self.activation)

    def _logits(self, query: str, texts: list[str]) -> np.ndarray:
        out = self._model.predict(
            [(query, t) for t in texts],
            batch_size=self.batch_size,
            activation_fn=self._identity,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float64).reshape(len(texts), -1)[:, 0]

    def _windows(self, tok: Any, query: str, texts: list[str]) -> tuple[list[str], list[int]]:
        """Split each text into character ranges that are token windows of ``tok``."""
        query_tokens = len(tok.encode(query, add_special_tokens=False).ids)
        budget = self.max_length - tok.num_special_tokens_to_add(True) - query_tokens
        window, stride = self.windows.resolve(budget)
        pieces: list[str] = []
        owners: list[int] = []
        for i, (text, enc) in enumerate(
            zip(texts, tok.encode_batch(texts, add_special_tokens=False), strict=True)
        ):
            spans = window_spans(len(enc.ids), window, stride)
            if len(spans) == 1:  # fits: score the text itself, exactly as truncation would
                pieces.append(text)
            else:
                pieces.extend(span_text(text, enc.offsets, span) for span in spans)
            owners.extend([i] * len(spans))
        return pieces, owners


def _fast_tokenizer(model: Any) -> Any:
    """An independent ``tokenizers.Tokenizer`` copy of the model's tokenizer, for offsets.

    A copy, so that switching off its padding/truncation cannot affect the model's own
    tokenization inside ``predict``.
    """
    tokenizers = require("tokenizers", feature="long_documents='windows'")
    backend = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
    if backend is None:
        raise InvalidInputError(
            "long_documents='windows' needs a fast (Rust) tokenizer to map token windows to "
            "text; this model only has a slow one. Use long_documents='truncate'."
        )
    tok = tokenizers.Tokenizer.from_str(backend.to_str())
    tok.no_padding()
    tok.no_truncation()
    return tok
