"""The one spec grammar: parse/format round trips, old spellings, conversions, error style."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shortlist.encoders import check_encoder, encoder_kind
from shortlist.errors import InvalidInputError, UnknownBackendError
from shortlist.funnel import Funnel, parse_stage1
from shortlist.index.specs import parse_spec
from shortlist.rerank import check_spec
from shortlist.rerank.fusion import Fusion
from shortlist.spec import Spec, convert, format_spec, parse, split_chain, unknown

HUB_ID = "cross-encoder/ms-marco-MiniLM-L-12-v2"

# every spelling README, docs/ and tests use, as (text, name, argument, options)
SPELLINGS = [
    ("onnx:cross-encoder/ms-marco-MiniLM-L-12-v2", "onnx", HUB_ID, {}),
    ("onnx:/models/a:b", "onnx", "/models/a:b", {}),
    ("onnx:<dir>?threads=2", "onnx", "<dir>", {"threads": "2"}),
    ("onnx:d?dequantize=true&threads=2", "onnx", "d", {"dequantize": "true", "threads": "2"}),
    ("onnx:d?dequantize=true,threads=2", "onnx", "d", {"dequantize": "true", "threads": "2"}),
    ("cohere:rerank-v3.5?base_url=http://127.0.0.1:9", "cohere", "rerank-v3.5", {"base_url": "http://127.0.0.1:9"}),
    ("onnx", "onnx", None, {}),
    ("  ONNX : /x ", "onnx", "/x", {}),
    ("weighted:w=0.2", "weighted", None, {"w": "0.2"}),
    ("rrf:k=60", "rrf", None, {"k": "60"}),
    ("rrf", "rrf", None, {}),
    ("hybrid:alpha=0.7", "hybrid", None, {"alpha": "0.7"}),
    ("hybrid:rrf", "hybrid", "rrf", {}),
    ("hybrid:weighted:w=0.3", "hybrid", "weighted:w=0.3", {}),
    ("flat", "flat", None, {}),
    ("hnsw:m=32", "hnsw", None, {"m": "32"}),
    ("hnsw:m=16,ef_search=128", "hnsw", None, {"m": "16", "ef_search": "128"}),
    ("faiss:IVF1024,Flat", "faiss", "IVF1024,Flat", {}),
    ("sentence-transformers:all-MiniLM-L6-v2", "sentence-transformers", "all-MiniLM-L6-v2", {}),
]  # fmt: skip


@pytest.mark.parametrize(("text", "name", "argument", "options"), SPELLINGS)
def test_every_documented_spelling_parses(
    text: str, name: str, argument: str | None, options: dict[str, str]
) -> None:
    spec = parse(text)
    assert (spec.name, spec.argument, dict(spec.options)) == (name, argument, options)


@pytest.mark.parametrize("text", [s[0] for s in SPELLINGS])
def test_format_round_trips(text: str) -> None:
    spec = parse(text)
    again = parse(str(spec))
    assert again == spec
    assert str(again) == str(spec)  # the canonical form is a fixed point


def test_canonical_form_uses_commas_and_the_colon_when_there_is_no_argument() -> None:
    assert str(parse("onnx:d?dequantize=true&threads=2")) == "onnx:d?dequantize=true,threads=2"
    assert str(parse("rrf?k=60")) == "rrf:k=60"
    assert (
        format_spec("onnx", "d", {"dequantize": True, "window": None}) == "onnx:d?dequantize=true"
    )
    # an argument that reads like options stays an argument
    tricky = Spec("x", "a=1")
    assert parse(str(tricky)) == tricky


def test_spec_is_frozen_and_hashable() -> None:
    spec = parse("hnsw:m=32")
    with pytest.raises(AttributeError):
        spec.name = "flat"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.options["m"] = "8"  # type: ignore[index]
    assert len({spec, parse("HNSW:m=32")}) == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("onnx?threads", "not name=value"),
        ("onnx?=2", "not name=value"),
        ("onnx?threads=1&threads=2", "twice"),
        (":x", "no name"),
        ("", "non-empty"),
    ],
)
def test_grammar_errors(text: str, says: str) -> None:
    with pytest.raises(InvalidInputError, match=says):
        parse(text)


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [("2", int, 2), ("2.5", float, 2.5), ("TRUE", bool, True), ("false", bool, False),
     ("x", str, "x"), ("true", None, True), ("3", None, 3), ("0.5", None, 0.5),
     ("none", None, "none"), ("nan", None, "nan")],
)  # fmt: skip
def test_convert(raw: str, kind: type | None, value: object) -> None:
    converted = convert(Spec("s", None, {"o": raw}), "o", kind)
    assert converted == value and type(converted) is type(value)


@pytest.mark.parametrize(
    ("raw", "kind", "says"),
    [
        ("abc", int, "must be an integer, got 'abc'"),
        ("2.5", int, "must be an integer"),
        ("ten", float, "must be a number, got 'ten'"),
        ("nan", float, "must be a finite number"),
        ("yes", bool, "must be true or false"),
    ],
)
def test_convert_errors_name_the_option_and_the_spec(raw: str, kind: type, says: str) -> None:
    spec = parse(f"s:opt={raw}")
    with pytest.raises(InvalidInputError, match=says) as caught:
        convert(spec, "opt", kind)
    assert f"Option 'opt' in 's:opt={raw}'" in str(caught.value)


def test_unknown_suggests_and_lists() -> None:
    error = unknown("thing", "onx", ["onnx", "cohere"], spec="onx:m", error=UnknownBackendError)
    assert isinstance(error, UnknownBackendError) and isinstance(error, ValueError)
    assert (
        str(error)
        == "Unknown thing 'onx' in 'onx:m'. Did you mean 'onnx'? Valid things: onnx, cohere."
    )
    far = unknown("thing", "zzz", ["onnx"])
    assert str(far) == "Unknown thing 'zzz'. Valid things: onnx."


# every spec kind: a typo gets the same "did you mean", with the valid names listed
TYPOS: list[tuple[str, Callable[[], object], type[Exception], str, str]] = [
    ("reranker", lambda: check_spec("onx:model"), UnknownBackendError,
     "Unknown reranker backend 'onx' in 'onx:model'. Did you mean 'onnx'?",
     "Valid backends: cohere"),
    ("reranker option", lambda: check_spec("onnx?treads=2"), InvalidInputError,
     "Unknown option 'treads' for the 'onnx' reranker in 'onnx?treads=2'. Did you mean 'threads'?",
     "Valid options: model, "),
    ("chain member", lambda: check_spec("cohere:x | onx:y"), UnknownBackendError,
     "Did you mean 'onnx'?", "Valid backends:"),
    ("fusion", lambda: Fusion.parse("rff:k=60"), InvalidInputError,
     "Unknown fusion 'rff' in 'rff:k=60'. Did you mean 'rrf'?",
     "Valid fusions: none, rrf, weighted."),
    ("fusion option", lambda: Fusion.parse("rrf:kk=3"), InvalidInputError,
     "Unknown option 'kk' for fusion 'rrf' in 'rrf:kk=3'. Did you mean 'k'?", "Valid options: k."),
    ("index type", lambda: parse_spec("hnsww:m=8"), UnknownBackendError,
     "Unknown index type 'hnsww' in 'hnsww:m=8'. Did you mean 'hnsw'?",
     "Valid index types: auto, flat, hnsw, ivfpq, faiss."),
    ("index option", lambda: parse_spec("hnsw:efsearch=3"), InvalidInputError,
     "Did you mean 'ef_search'?", "Valid options: m, ef_construction, ef_search."),
    ("stage-1 mode", lambda: parse_stage1("hybird"), InvalidInputError,
     "Unknown stage-1 mode 'hybird'. Did you mean 'hybrid'?",
     "Valid stage-1 modes: dense, bm25, hybrid."),
    ("stage-1 option", lambda: parse_stage1("hybrid:alpah=0.5"), InvalidInputError,
     "Did you mean 'alpha'?", "Valid options: alpha."),
    ("encoder prefix", lambda: check_encoder("onx:/models/e"), UnknownBackendError,
     "Unknown encoder prefix 'onx' in 'onx:/models/e'. Did you mean 'onnx'?",
     "Valid encoder prefixes: onnx, sentence-transformers."),
    ("encoder option", lambda: check_encoder("onnx:/models/e?thread=2"), InvalidInputError,
     "Unknown option 'thread' for the 'onnx' encoder", "Did you mean 'threads'?"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "call", "error", "first", "then"), TYPOS, ids=[t[0] for t in TYPOS]
)
def test_every_spec_kind_says_did_you_mean(
    kind: str, call: Callable[[], object], error: type[Exception], first: str, then: str
) -> None:
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    assert first in message and then in message, message
    assert message.index(first) < message.index(then)


def test_values_are_converted_by_kind() -> None:
    assert Fusion.parse("weighted:w=0.25") == Fusion("weighted", weight=0.25)
    assert Fusion.parse("RRF:k=10") == Fusion("rrf", k=10)
    assert parse_spec("hnsw:m=16").params["m"] == 16
    assert parse_stage1("hybrid:alpha=0.5") == ("hybrid", Fusion("weighted", weight=0.5))
    with pytest.raises(InvalidInputError, match=r"Option 'm' in 'hnsw:m=1\.5' must be an integer"):
        parse_spec("hnsw:m=1.5")
    with pytest.raises(
        InvalidInputError, match="Option 'alpha' in 'hybrid:alpha=x' must be a number"
    ):
        parse_stage1("hybrid:alpha=x")


def test_each_kind_formats_back_to_what_it_parses() -> None:
    for text in ("rrf:k=60", "weighted:w=0.2"):
        assert str(Fusion.parse(text)) == text
    for text in ("flat", "faiss:IVF1024,Flat", "hnsw:ef_construction=80,ef_search=64,m=32"):
        assert str(parse_spec(text)) == text
    funnel = Funnel(mode="hybrid", hybrid="rrf:k=30")
    assert parse_stage1(funnel.stage1_spec) == ("hybrid", Fusion("rrf", k=30))


def test_chains_split_on_the_bar() -> None:
    assert split_chain("cohere:rerank-v3.5 | onnx:/d?threads=2") == [
        "cohere:rerank-v3.5",
        "onnx:/d?threads=2",
    ]
    with pytest.raises(InvalidInputError, match="empty member"):
        split_chain("cohere |")


def test_encoder_names_without_a_prefix_stay_model_names(tmp_path: Path) -> None:
    assert encoder_kind("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers"
    assert encoder_kind("sentence-transformers:all-MiniLM-L6-v2") == "sentence-transformers"
    assert encoder_kind(f"onnx:{tmp_path}?threads=2") == "onnx"
    assert encoder_kind(tmp_path / "a:b") == "sentence-transformers"  # a path, not a prefix
    assert encoder_kind("C:\\models\\e") == "sentence-transformers"  # a drive letter
    with pytest.raises(InvalidInputError, match="names no model"):
        encoder_kind("onnx:")
    with pytest.raises(InvalidInputError, match="keyword argument"):
        encoder_kind("sentence-transformers:m?trust_remote_code=true")
