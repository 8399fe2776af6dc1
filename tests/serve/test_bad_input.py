"""The bad-input table against the HTTP surface: every row a 4xx with a message, 0 raw 500s."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shortlist.serve import BackgroundServer

from .helpers import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}
OK = {"query": "heat transfer", "documents": ["heat flux", "wing"]}

RERANK: list[tuple[str, Any, int]] = [
    ("missing query", {"documents": ["a"]}, 422),
    ("empty query", {**OK, "query": "  "}, 422),
    ("query not a string", {**OK, "query": 3}, 422),
    ("missing documents", {"query": "q"}, 422),
    ("empty documents", {**OK, "documents": []}, 422),
    ("documents a string", {**OK, "documents": "abc"}, 422),
    ("document a number", {**OK, "documents": ["a", 7]}, 422),
    ("document object without text", {**OK, "documents": [{"title": "a"}]}, 422),
    ("document null", {**OK, "documents": [None]}, 422),
    ("top_n zero", {**OK, "top_n": 0}, 422),
    ("top_n negative", {**OK, "top_n": -2}, 422),
    ("top_n float", {**OK, "top_n": 1.5}, 422),
    ("top_n string", {**OK, "top_n": "3"}, 422),
    ("top_n bool", {**OK, "top_n": True}, 422),
    ("max_tokens_per_doc string", {**OK, "max_tokens_per_doc": "x"}, 422),
    ("too many documents", {**OK, "documents": ["d"] * 101}, 413),
    ("document too long", {**OK, "documents": ["x" * 20_001]}, 413),
    ("query too long", {**OK, "query": "q" * 20_001}, 413),
    ("body a list", ["a"], 400),
    ("body a number", 3, 400),
]
SEARCH: list[tuple[str, Any, int]] = [
    ("missing query", {"index": "cranfield"}, 422),
    ("unknown index", {"query": "flow", "index": "nope"}, 404),
    ("index not a string", {"query": "flow", "index": 3}, 422),
    ("bad mode", {"query": "flow", "mode": "fuzzy"}, 422),
    ("bad top_n", {"query": "flow", "top_n": 0}, 422),
    ("top_n over fetch_k", {"query": "flow", "top_n": 20, "fetch_k": 10}, 422),
    ("fetch_k over the limit", {"query": "flow", "fetch_k": 10_000}, 413),
    ("filters not an object", {"query": "flow", "filters": [1]}, 422),
    ("bad filter operator", {"query": "flow", "filters": {"year": {"$near": 3}}}, 422),
]


@pytest.mark.parametrize("path", ["/v2/rerank", "/v1/rerank"])
@pytest.mark.parametrize(("case", "body", "status"), RERANK, ids=[r[0] for r in RERANK])
def test_rerank_rejects_bad_input(toy_server: BackgroundServer, path: str, case: str,
                                  body: Any, status: int) -> None:  # fmt: skip
    reply = httpx.post(toy_server.url + path, json=body, headers=AUTH)
    assert reply.status_code == status, reply.text
    assert isinstance(reply.json()["message"], str) and reply.json()["message"]


@pytest.mark.parametrize(("case", "body", "status"), SEARCH, ids=[r[0] for r in SEARCH])
def test_search_rejects_bad_input(toy_server: BackgroundServer, case: str, body: Any,
                                  status: int) -> None:  # fmt: skip
    reply = httpx.post(toy_server.url + "/v1/search", json=body, headers=AUTH)
    assert reply.status_code == status, reply.text
    assert reply.json()["message"]


@pytest.mark.parametrize(
    ("case", "raw", "status"),
    [
        ("not JSON", b"{query: 1", 400),
        ("empty body", b"", 400),
        ("not UTF-8", b"\xff\xfe\x00", 400),
        ("deeply nested", b"[" * 100_000 + b"]" * 100_000, 400),
        ("huge body", b'{"query": "q", "documents": ["' + b"x" * 300_000 + b'"]}', 413),
    ],
)
def test_malformed_bodies(toy_server: BackgroundServer, case: str, raw: bytes, status: int) -> None:
    reply = httpx.post(
        toy_server.url + "/v2/rerank",
        content=raw,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert reply.status_code == status, reply.text
    assert reply.json()["message"]


def test_a_body_over_the_limit_without_content_length_is_cut_off(
    toy_server: BackgroundServer,
) -> None:
    """Chunked upload (no Content-Length): refused once the bytes read pass the limit."""

    def chunks() -> Any:
        yield b'{"query": "q", "documents": ["'
        for _ in range(100):
            yield b"x" * 10_000
        yield b'"]}'

    reply = httpx.post(toy_server.url + "/v2/rerank", content=chunks(), headers=AUTH)
    assert reply.status_code == 413


def test_unknown_routes_and_methods_are_cohere_shaped(toy_server: BackgroundServer) -> None:
    assert httpx.post(toy_server.url + "/v3/rerank", json=OK, headers=AUTH).status_code == 404
    reply = httpx.get(toy_server.url + "/v2/rerank", headers=AUTH)
    assert reply.status_code == 405 and "message" in reply.json()
