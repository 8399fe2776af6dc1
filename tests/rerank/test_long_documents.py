"""Past the model's token limit: truncation loses the tail, windows find it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shortlist.errors import InvalidInputError
from shortlist.rerank import Reranker
from shortlist.rerank.cross_encoder import CrossEncoderReranker
from shortlist.rerank.onnx import OnnxReranker
from shortlist.rerank.windows import WindowOptions, best_per_text, span_text, window_spans

QUERY = "What causes scurvy?"
ANSWER = (
    "Scurvy is a disease caused by a lack of vitamin C. Without fruit or vegetables in the "
    "diet, sailors on long voyages suffered from scurvy."
)


@pytest.fixture(scope="module")
def long_document(cranfield: tuple) -> str:
    """About 650 tokens of aeronautics abstracts with the answer as the last sentence."""
    corpus, _, _ = cranfield
    filler = " ".join(corpus[str(i)] for i in range(1, 40))
    words = filler.split()[:510]
    return " ".join(words) + " " + ANSWER


@pytest.fixture(scope="module")
def onnx_windows(onnx_model_path: Path) -> OnnxReranker:
    return OnnxReranker(onnx_model_path, long_documents="windows")


@pytest.fixture(scope="module")
def st_windows(cross_encoder_path: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(cross_encoder_path, device="cpu", long_documents="windows")


def _token_count(reranker: OnnxReranker, text: str) -> int:
    return len(reranker._tokenizer.encode(text, add_special_tokens=False).ids)


@pytest.mark.parametrize(
    ("truncating", "windowed"),
    [
        ("onnx_reranker", "onnx_windows"),
        ("st_reranker", "st_windows"),
    ],
)
def test_answer_at_the_end_needs_windows(
    request: pytest.FixtureRequest,
    truncating: str,
    windowed: str,
    long_document: str,
    onnx_reranker: OnnxReranker,
) -> None:
    assert 600 <= _token_count(onnx_reranker, long_document) <= 720
    cut: Reranker = request.getfixturevalue(truncating)
    win: Reranker = request.getfixturevalue(windowed)
    texts = [long_document, ANSWER, "The Eiffel Tower is in Paris."]
    truncated = cut.score(QUERY, texts)
    windows = win.score(QUERY, texts)
    assert truncated[0] < 0.05, "the answer lies past max_length, truncation cannot see it"
    assert windows[0] > 0.5, "a window covers the answer"
    # short texts are one window: scored exactly as with truncation
    np.testing.assert_allclose(windows[1:], truncated[1:], atol=1e-4)


def test_onnx_and_st_windows_agree(
    onnx_windows: OnnxReranker, st_windows: CrossEncoderReranker, long_document: str
) -> None:
    onnx_scores = onnx_windows.score(QUERY, [long_document])
    st_scores = st_windows.score(QUERY, [long_document])
    assert onnx_scores[0] == pytest.approx(st_scores[0], abs=0.05)


def test_window_spans_cover_everything_with_overlap() -> None:
    spans = window_spans(650, 480, 240)
    assert spans == [(0, 480), (170, 650)]
    assert window_spans(100, 480, 240) == [(0, 100)]
    assert window_spans(0, 480, 240) == [(0, 0)]
    spans = window_spans(1000, 100, 30)
    assert spans[0] == (0, 100) and spans[-1] == (900, 1000)
    assert all(b - a == 100 for a, b in spans)
    assert all(spans[i + 1][0] - spans[i][0] <= 30 for i in range(len(spans) - 1))
    covered = np.zeros(1000, dtype=bool)
    for a, b in spans:
        covered[a:b] = True
    assert covered.all()


def test_span_text_uses_offsets() -> None:
    text = "alpha beta gamma delta"
    offsets = [(0, 5), (6, 10), (11, 16), (17, 22)]
    assert span_text(text, offsets, (1, 3)) == "beta gamma"
    assert span_text(text, offsets, (2, 2)) == ""


def test_best_per_text_takes_the_max_window() -> None:
    scores = np.array([0.1, 0.9, 0.3, 0.2, 0.4])
    owners = np.array([0, 0, 1, 2, 2])
    assert best_per_text(scores, owners, 3).tolist() == [0.9, 0.3, 0.4]


def test_window_options_resolve() -> None:
    assert WindowOptions("windows").resolve(480) == (128, 64)
    assert WindowOptions("windows").resolve(100) == (100, 50)
    assert WindowOptions("windows", 300).resolve(480) == (300, 150)
    assert WindowOptions("windows", 1000, 100).resolve(480) == (480, 100)
    with pytest.raises(InvalidInputError, match="no room"):
        WindowOptions("windows").resolve(0)
    with pytest.raises(InvalidInputError, match="long_documents"):
        WindowOptions("sliding")  # type: ignore[arg-type]
