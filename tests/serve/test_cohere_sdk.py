"""The real ``cohere`` SDK against the server: same order and scores as in-process."""

from __future__ import annotations

import logging
from typing import Any

import cohere
import httpx
import pytest
from cohere.core.api_error import ApiError

from shortlist.serve import BackgroundServer, ServeConfig, create_app
from tests.rerank.conftest import QUERY, TEXTS

from .helpers import API_KEY, OTHER_KEY, WordOverlap, start


def pairs(results: Any) -> list[tuple[int, float]]:
    return [(r.index, r.relevance_score) for r in results]


def in_process(reranker: Any, query: str, texts: list[str], top_n: int | None) -> list[Any]:
    return [(r.index, r.score) for r in reranker.rerank(query, texts, top_n=top_n)]


@pytest.mark.parametrize("top_n", [None, 3])
def test_client_v2_matches_in_process_onnx(onnx: Any, onnx_server: BackgroundServer,
                                           top_n: int | None) -> None:  # fmt: skip
    co = cohere.ClientV2(api_key=API_KEY, base_url=onnx_server.url)
    got = co.rerank(model="rerank-v3.5", query=QUERY, documents=TEXTS, top_n=top_n)
    want = in_process(onnx, QUERY, TEXTS, top_n)
    assert [i for i, _ in pairs(got.results)] == [i for i, _ in want]
    assert [s for _, s in pairs(got.results)] == pytest.approx([s for _, s in want], abs=1e-6)
    assert got.results[0].index == 2  # "A lack of vitamin C in the diet causes scurvy."
    assert got.meta is not None and got.meta.api_version is not None
    assert got.meta.api_version.version == "2" and got.id


async def test_async_client_v2_matches_in_process_onnx(
    onnx: Any, onnx_server: BackgroundServer
) -> None:
    co = cohere.AsyncClientV2(api_key=OTHER_KEY, base_url=onnx_server.url)
    got = await co.rerank(model="any", query=QUERY, documents=TEXTS, top_n=4)
    want = in_process(onnx, QUERY, TEXTS, 4)
    assert [i for i, _ in pairs(got.results)] == [i for i, _ in want]
    assert [s for _, s in pairs(got.results)] == pytest.approx([s for _, s in want], abs=1e-6)


def test_v1_client_returns_documents_and_reads_objects(
    toy: WordOverlap, toy_server: BackgroundServer
) -> None:
    docs = [{"text": t, "source": f"s{i}"} for i, t in enumerate(TEXTS)]
    co = cohere.Client(api_key=API_KEY, base_url=toy_server.url)
    got = co.rerank(query=QUERY, documents=docs, top_n=2, return_documents=True)
    want = in_process(toy, QUERY, TEXTS, 2)
    assert pairs(got.results) == want
    assert [r.document.text for r in got.results] == [TEXTS[i] for i, _ in want]
    assert got.results[0].document.source == f"s{want[0][0]}"  # the object comes back whole
    plain = co.rerank(query=QUERY, documents=TEXTS, model="rerank-english-v2.0")
    assert all(r.document is None for r in plain.results) and len(plain.results) == len(TEXTS)


def test_v1_rank_fields_choose_what_is_scored(toy_server: BackgroundServer) -> None:
    co = cohere.Client(api_key=API_KEY, base_url=toy_server.url)
    docs = [{"title": "scurvy", "body": "ships"}, {"title": "paris", "body": "tower"}]
    by_title = co.rerank(query="scurvy", documents=docs, rank_fields=["title"])
    by_body = co.rerank(query="scurvy", documents=docs, rank_fields=["body"])
    assert by_title.results[0].index == 0 and by_title.results[0].relevance_score == 1.0
    assert all(r.relevance_score == 0.0 for r in by_body.results)


def test_max_tokens_per_doc_is_accepted_and_reported(toy_server: BackgroundServer) -> None:
    co = cohere.ClientV2(api_key=API_KEY, base_url=toy_server.url)
    got = co.rerank(model="m", query=QUERY, documents=TEXTS, max_tokens_per_doc=64)
    assert (
        got.meta is not None and got.meta.warnings and "max_tokens_per_doc" in got.meta.warnings[0]
    )
    with pytest.raises(cohere.UnprocessableEntityError, match="max_tokens_per_doc"):
        co.rerank(model="m", query=QUERY, documents=TEXTS, max_tokens_per_doc=0)


@pytest.mark.parametrize("key", ["wrong", API_KEY + "x", API_KEY[:-1]])
def test_a_bad_key_is_the_sdks_unauthorized_error(toy_server: BackgroundServer, key: str) -> None:
    co = cohere.ClientV2(api_key=key, base_url=toy_server.url)
    with pytest.raises(cohere.UnauthorizedError) as caught:
        co.rerank(model="m", query=QUERY, documents=TEXTS)
    assert caught.value.body == {"message": "Invalid API key."}


def test_a_missing_key_is_401_for_every_protected_route(toy_server: BackgroundServer) -> None:
    for path in ("/v2/rerank", "/v1/rerank", "/v1/search"):
        reply = httpx.post(toy_server.url + path, json={"query": "q", "documents": ["a"]})
        assert reply.status_code == 401 and "Authorization: Bearer" in reply.json()["message"]
    assert httpx.get(toy_server.url + "/metrics").status_code == 401
    assert httpx.get(toy_server.url + "/health").status_code == 200  # probes need no key


def test_over_limit_is_an_api_error_with_413(toy_server: BackgroundServer) -> None:
    co = cohere.ClientV2(api_key=API_KEY, base_url=toy_server.url)
    with pytest.raises(ApiError) as caught:
        co.rerank(model="m", query=QUERY, documents=["x"] * 101)
    assert caught.value.status_code == 413 and "limit of 100" in caught.value.body["message"]


def test_keys_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret, wrong = "sk-never-in-a-log-91d2", "sk-wrong-never-logged-77"
    server = start(WordOverlap(), keys=(secret,))
    try:
        for key in (secret, wrong):
            co = cohere.ClientV2(api_key=key, base_url=server.url, max_retries=0)
            try:
                co.rerank(model="m", query=QUERY, documents=TEXTS)
            except cohere.UnauthorizedError:
                assert key == wrong
        config = server.app.state.config
        assert secret not in repr(config) and "1 keys" in repr(config)
    finally:
        server.stop()
    assert "bearer-token auth on (1 keys)" in caplog.text
    assert secret not in caplog.text and wrong not in caplog.text


def test_an_open_server_says_so_at_start(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shortlist.serve")
    app = create_app(ServeConfig(), reranker=WordOverlap())
    with BackgroundServer(app) as server:
        assert app.state.models.wait(10)
        got = cohere.ClientV2(api_key="anything", base_url=server.url).rerank(
            model="m", query="cat", documents=["cat", "dog"]
        )
        assert [r.index for r in got.results] == [0, 1]
    assert "the server is open to anyone" in caplog.text
