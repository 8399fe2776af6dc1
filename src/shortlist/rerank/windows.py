"""Long documents: what happens past the model's token limit, in one place for all backends.

A cross-encoder sees ``[CLS] query [SEP] text [SEP]`` cut to ``max_length`` tokens (512 for
the MS MARCO MiniLM models). With ``long_documents="truncate"`` (the default, and what every
peer does) the text side is cut, so a relevant passage after roughly the first 500 tokens is
never seen. With ``long_documents="windows"`` the text is split into overlapping token windows,
each window is scored against the query, and the text keeps its best window's score (the
MaxP strategy of Dai & Callan, 2019). A 650-token text becomes 10 windows of 128 tokens, so
it costs several model calls per long text: it is opt-in.

The local backends share this module: they tokenize with their own tokenizer (a
``tokenizers.Tokenizer``), ask :func:`window_spans` where the windows go, and combine window
scores with :func:`best_per_text`. The ONNX backend slices token ids directly; the
sentence-transformers backend maps the spans back to character ranges via the tokenizer's
offsets (:func:`span_text`), so both split at exactly the same token positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from shortlist._validate import positive_int
from shortlist.errors import InvalidInputError

LongDocuments = Literal["truncate", "windows"]
"""How a local backend treats text longer than the model's limit."""

MIN_WINDOW_TOKENS = 16
"""Below this a window carries too little context to be worth a model call."""

DEFAULT_WINDOW_TOKENS = 128
"""Passage-sized, like the MS MARCO passages these cross-encoders were trained on.

Measured with ms-marco-MiniLM-L-12-v2 (int8 ONNX): a two-sentence answer at the end of a
666-token aeronautics text scores 0.94 with 128-token windows, 0.59 with 192, 0.016 with
256 and 0.0017 with ~490-token (model-filling) windows. Relevant text inside a long window
of unrelated text is diluted, so a window should be about the size of the passage you
hope to find.
"""


@dataclass(frozen=True, slots=True)
class WindowOptions:
    """Validated long-document settings shared by the local backends.

    Args:
        mode: ``"truncate"`` (cut the text at the limit) or ``"windows"`` (score overlapping
            windows, keep the best).
        window_tokens: text tokens per window; ``None`` means
            :data:`DEFAULT_WINDOW_TOKENS` (128). Capped at what fits in ``max_length`` after
            the query and the special tokens.
        window_stride: tokens between the starts of consecutive windows. ``None`` means half
            a window (50 % overlap), so any passage up to half a window long lies entirely
            inside at least one window.
    """

    mode: LongDocuments = "truncate"
    window_tokens: int | None = None
    window_stride: int | None = None

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> WindowOptions:
        """The settings among a backend's constructor keywords (``preflight`` checks them)."""
        return cls(
            options.get("long_documents", "truncate"),
            options.get("window_tokens"),
            options.get("window_stride"),
        )

    def __post_init__(self) -> None:
        if self.mode not in get_args(LongDocuments):
            raise InvalidInputError(
                f"long_documents must be 'truncate' or 'windows', got {self.mode!r}."
            )
        for name in ("window_tokens", "window_stride"):
            positive_int(name, getattr(self, name), allow_none=True)
        if self.window_tokens is not None and self.window_tokens < MIN_WINDOW_TOKENS:
            raise InvalidInputError(
                f"window_tokens={self.window_tokens} is too small; "
                f"use at least {MIN_WINDOW_TOKENS}."
            )
        if (
            self.window_tokens is not None
            and self.window_stride is not None
            and self.window_stride > self.window_tokens
        ):
            raise InvalidInputError(
                f"window_stride ({self.window_stride}) must not exceed window_tokens "
                f"({self.window_tokens}), or text between windows would never be scored."
            )

    @property
    def windows(self) -> bool:
        """True when long texts are split into windows rather than truncated."""
        return self.mode == "windows"

    def resolve(self, budget: int) -> tuple[int, int]:
        """Window length and stride (in text tokens) for a model with ``budget`` free tokens.

        ``budget`` is what is left of ``max_length`` after the query and special tokens.
        """
        if budget < 1:
            raise InvalidInputError(
                "The query leaves no room for the text within max_length; shorten the query "
                "or raise max_length."
            )
        window = min(self.window_tokens or DEFAULT_WINDOW_TOKENS, budget)
        stride = min(self.window_stride or max(1, window // 2), window)
        return window, stride


def window_spans(n_tokens: int, window: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges ``[start, end)`` that cover ``n_tokens`` with windows of ``window``.

    Windows start every ``stride`` tokens; the last one is aligned to the end of the text
    (not left short), so the tail gets a full window of context. A text that fits is one
    span, which makes windowing identical to truncation for short texts.
    """
    if window < 1 or stride < 1:
        raise InvalidInputError("window and stride must be positive.")
    if n_tokens <= window:
        return [(0, n_tokens)]
    spans = [(start, start + window) for start in range(0, n_tokens - window, stride)]
    spans.append((n_tokens - window, n_tokens))
    return spans


def span_text(text: str, offsets: Sequence[tuple[int, int]], span: tuple[int, int]) -> str:
    """The characters of ``text`` covered by tokens ``span`` (via the tokenizer's offsets)."""
    start, end = span
    if start >= end or not offsets:
        return ""
    return text[offsets[start][0] : offsets[end - 1][1]]


def best_per_text(scores: np.ndarray, owners: np.ndarray, n_texts: int) -> np.ndarray:
    """Max window score per text: ``out[i] = max(scores[owners == i])``.

    Every text owns at least one window (a short text is its own single window).
    """
    out = np.full(n_texts, -np.inf, dtype=np.float64)
    np.maximum.at(out, owners, np.asarray(scores, dtype=np.float64))
    return out
