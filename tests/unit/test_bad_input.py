"""Bad input gets a typed error that says what to pass instead; nothing slips through.

Table-driven: each row is an input a hostile or careless user tried, the error it must
raise and words the message must contain. Add rows; never loosen one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from shortlist import Document, Index, InvalidInputError, Pipeline
from shortlist.documents import clean_text
from shortlist.rerank.fusion import Fusion
from tests.unit.toy import HashEncoder


def _index() -> Index:
    return Index.build(
        ["alpha text", "beta text", "gamma text"],
        HashEncoder(),
        ids=["a", "b", "c"],
        metadatas=[{"year": 2020}, {"year": 2021}, {"year": 2022}],
    )


CASES: list[tuple[str, Callable[[Index], Any], str]] = [
    ("a string instead of a list of texts", lambda i: i.add("hello world"), "not a single string"),
    ("an int id", lambda i: i.add(["x"], ids=[0]), r"ids\[0\] is 0"),  # type: ignore[list-item]
    ("an empty id", lambda i: i.add(["x"], ids=[""]), r"ids\[0\] is ''"),
    ("int metadata keys", lambda i: i.add(["x"], metadatas=[{1: "a"}]), "keys must be strings"),  # type: ignore[dict-item]
    (
        "nested int metadata keys",
        lambda i: i.add(["x"], metadatas=[{"m": [{2: "b"}]}]),  # type: ignore[dict-item]
        "keys must be strings",
    ),
    (
        "$Or (capitalised)",
        lambda i: i.search("q", 2, filter={"$Or": []}),
        "Unknown filter combinator",
    ),
    ("$not", lambda i: i.search("q", 2, filter={"$not": {"year": 2020}}), "use \\$and or \\$or"),
    (
        "mixed operator and plain keys",
        lambda i: i.search("q", 2, filter={"year": {"$gte": 2020, "lt": 2022}}),
        "mixes operators and plain keys",
    ),
    (
        "$exists with a string",
        lambda i: i.search("q", 2, filter={"year": {"$exists": "no"}}),
        "true or false",
    ),
    ("NaN score threshold", lambda i: Pipeline(i, score_threshold=float("nan")), "finite"),
    ("rrf k=nan", lambda i: Fusion.parse("rrf:k=nan"), "finite"),
    ("NaN query vector", lambda i: i.search_vectors(np.full((1, 16), np.nan), 2), "NaN"),
    ("inf query vector", lambda i: i.search_vectors(np.full((1, 16), np.inf), 2), "infinity"),
    ("get with a string", lambda i: i.get("a"), "list of ids"),
    ("k=0", lambda i: i.search("q", 0), "positive integer"),
    ("empty query", lambda i: i.search("   ", 2), "non-empty"),
    ("unknown mode", lambda i: i.search("q", 2, mode="semantic"), "mode must be one of"),
    ("alpha above 1", lambda i: i.search("q", 2, mode="hybrid", alpha=2), "within 0..1"),
    ("sparse_k=0", lambda i: i.search("q", 2, mode="hybrid", sparse_k=0), "sparse_k"),
]


@pytest.mark.parametrize(("case", "call", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_typed_error(case: str, call: Callable[[Index], Any], message: str) -> None:
    index = _index()
    before = [(d.id, d.text) for d in index.get(index.ids)]
    with pytest.raises(InvalidInputError, match=message):
        call(index)
    assert [(d.id, d.text) for d in index.get(index.ids)] == before  # nothing half-done


def test_lone_surrogates_are_replaced_not_raised() -> None:
    """Documented: a lone UTF-16 half becomes U+FFFD; a valid pair stays one character."""
    assert clean_text("caf\ud800e") == "caf\ufffde"
    assert clean_text("ok \U0001f600") == "ok \U0001f600"
    index = _index()
    index.add([Document("s", "broken \udc00 text")])
    assert index.get(["s"])[0].text == "broken \ufffd text"
    assert len(index.search("query with \ud800 half", 1)) == 1  # no TypeError
    assert [h.id for h in index.search("broken \ud800 text", 1, mode="bm25")] == ["s"]
