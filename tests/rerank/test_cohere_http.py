"""The real cohere SDK, driven by CohereReranker, against a real local HTTP server.

Nothing is mocked: requests go over TCP to ``tests/fakes/cohere_server.py``, so the SDK's
own retry loop, Retry-After handling, timeouts and error classes are what is tested.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shortlist.documents import STAGE1, Document, Hit
from shortlist.errors import (
    AuthenticationError,
    InvalidInputError,
    RateLimitError,
    RerankerAPIError,
    RerankerRequestError,
    RerankerTimeoutError,
)
from shortlist.rerank.cohere import CohereReranker
from shortlist.rerank.cohere_wire import retry_after_seconds
from tests.fakes.cohere_server import FakeCohere, Reply, overlap_score

QUERY = "boundary layer transition on a flat plate"
DOCS = [
    "heat transfer in hypersonic flow",
    "transition of the laminar boundary layer",
    "wing flutter at transonic speeds",
    "boundary layer suction",
    "a flat plate in supersonic flow",
    "propeller noise",
    "layer by layer analysis of composite shells",
    "boundary layer transition on a flat plate and skin friction",
]


@pytest.fixture
def make(fake_cohere: FakeCohere) -> Iterator[Any]:
    """Build rerankers pointed at the fake server; closes them afterwards."""
    made: list[CohereReranker] = []

    def factory(**options: Any) -> CohereReranker:
        options.setdefault("api_key", fake_cohere.api_key)
        options.setdefault("base_url", fake_cohere.url)
        options.setdefault("timeout", 5.0)
        reranker = CohereReranker(**options)
        made.append(reranker)
        return reranker

    yield factory
    for reranker in made:
        reranker.close()


def expected_order(query: str, docs: list[str]) -> list[int]:
    scores = [overlap_score(query, d) for d in docs]
    return sorted(range(len(docs)), key=lambda i: -scores[i])


def test_success_scores_every_document(make: Any, fake_cohere: FakeCohere) -> None:
    results = make().rerank(QUERY, DOCS)
    assert [r.index for r in results] == expected_order(QUERY, DOCS)
    assert results[0].score == pytest.approx(overlap_score(QUERY, DOCS[results[0].index]))
    (seen,) = fake_cohere.requests
    assert seen.path == "/v2/rerank"
    assert seen.headers["authorization"] == f"Bearer {fake_cohere.api_key}"
    assert seen.headers.get("x-client-name") == "shortlist"
    assert seen.body["model"] == "rerank-v3.5"
    assert seen.body["query"] == QUERY
    assert seen.body["documents"] == DOCS
    assert seen.body["top_n"] == len(DOCS)  # all scores; the cut happens locally
    assert "max_tokens_per_doc" not in seen.body


def test_top_n_and_options_reach_the_api(make: Any, fake_cohere: FakeCohere) -> None:
    results = make(model="rerank-english-v3.0", max_tokens_per_doc=512).rerank(QUERY, DOCS, top_n=2)
    assert [r.index for r in results] == expected_order(QUERY, DOCS)[:2]
    (seen,) = fake_cohere.requests
    assert seen.body["model"] == "rerank-english-v3.0"
    assert seen.body["max_tokens_per_doc"] == 512


def test_more_documents_than_one_request_allows_are_split_and_merged(
    make: Any, fake_cohere: FakeCohere
) -> None:
    fake_cohere.max_docs = 3
    try:
        results = make(max_docs_per_request=3).rerank(QUERY, DOCS)
    finally:
        fake_cohere.max_docs = 1000
    assert [len(r.body["documents"]) for r in fake_cohere.requests] == [3, 3, 2]
    assert [r.index for r in results] == expected_order(QUERY, DOCS)
    assert results[0].index == 7  # the best document was in the last request


def test_400_surfaces_the_server_message(make: Any, fake_cohere: FakeCohere) -> None:
    fake_cohere.max_docs = 3  # the server refuses what the client was allowed to send
    try:
        with pytest.raises(RerankerRequestError) as info:
            make().rerank(QUERY, DOCS)
    finally:
        fake_cohere.max_docs = 1000
    assert info.value.status_code == 400
    assert "too many documents, got 8, max is 3" in str(info.value)
    assert isinstance(info.value, InvalidInputError) and isinstance(info.value, RerankerAPIError)
    assert len(fake_cohere.requests) == 1  # 4xx is not retried


def test_422_is_a_request_error(make: Any, fake_cohere: FakeCohere) -> None:
    fake_cohere.script(Reply(422, {"message": "model 'x' does not support rerank"}))
    with pytest.raises(RerankerRequestError, match="does not support rerank"):
        make().rerank(QUERY, DOCS)


def test_401_is_an_authentication_error(make: Any, fake_cohere: FakeCohere) -> None:
    with pytest.raises(AuthenticationError) as info:
        make(api_key="wrong-key").rerank(QUERY, DOCS)
    assert info.value.status_code == 401
    assert "invalid api token" in str(info.value)
    assert "CO_API_KEY" in str(info.value)
    assert len(fake_cohere.requests) == 1


def test_429_with_retry_after_is_retried_and_the_wait_honoured(
    make: Any, fake_cohere: FakeCohere
) -> None:
    fake_cohere.script(Reply(429, {"message": "rate limited"}, headers={"retry-after-ms": "200"}))
    results = make(max_retries=2).rerank(QUERY, DOCS, top_n=1)
    assert results[0].index == expected_order(QUERY, DOCS)[0]
    first, second = fake_cohere.requests
    waited = second.at - first.at
    # the SDK slept for the server's 0.2 s, not its own ~1 s exponential backoff
    assert 0.2 <= waited < 0.9, waited


def test_persistent_429_is_a_rate_limit_error_with_retry_after(
    make: Any, fake_cohere: FakeCohere
) -> None:
    fake_cohere.always(Reply(429, {"message": "slow down"}, headers={"retry-after-ms": "50"}))
    with pytest.raises(RateLimitError) as info:
        make(max_retries=1).rerank(QUERY, DOCS)
    assert info.value.retry_after == pytest.approx(0.05)
    assert info.value.status_code == 429
    assert "slow down" in str(info.value)
    assert len(fake_cohere.requests) == 2  # 1 + max_retries: no second retry loop


def test_persistent_5xx_retries_then_raises(make: Any, fake_cohere: FakeCohere) -> None:
    fake_cohere.always(Reply(503, {"message": "overloaded"}, headers={"retry-after-ms": "10"}))
    with pytest.raises(RerankerAPIError) as info:
        make(max_retries=2).rerank(QUERY, DOCS)
    assert info.value.status_code == 503
    assert "overloaded" in str(info.value)
    assert len(fake_cohere.requests) == 1 + 2


def test_5xx_with_html_body(make: Any, fake_cohere: FakeCohere) -> None:
    fake_cohere.always(
        Reply(
            500,
            raw=b"<html>Internal Server Error</html>",
            headers={"Content-Type": "text/html", "retry-after-ms": "1"},
        )
    )
    with pytest.raises(RerankerAPIError, match="Internal Server Error") as info:
        make(max_retries=0).rerank(QUERY, DOCS)
    assert info.value.status_code == 500


def test_slower_than_timeout_is_a_timeout_error(make: Any, fake_cohere: FakeCohere) -> None:
    fake_cohere.script(Reply(delay=1.5))
    start = time.perf_counter()
    with pytest.raises(RerankerTimeoutError, match=r"timeout=0\.3s"):
        make(timeout=0.3, max_retries=0).rerank(QUERY, DOCS)
    assert time.perf_counter() - start < 1.4
    assert isinstance(RerankerTimeoutError("x"), TimeoutError)


def _hits(docs: list[str]) -> list[Hit]:
    return [
        Hit(Document(str(i), d), score=1.0 - i / 100, rank=i + 1, retrieval_score=1.0 - i / 100)
        for i, d in enumerate(docs)
    ]


def test_a_budget_is_one_request_bounded_by_the_budget(make: Any, fake_cohere: FakeCohere) -> None:
    """Under a budget, Cohere gets every candidate in one request whose timeout is the
    budget (not timeout=5 s): a slow reply costs the budget, and the candidates keep their
    stage-1 order instead of an error."""
    fake_cohere.script(Reply(delay=1.5))
    reranker = make(timeout=5.0, max_retries=0)
    start = time.perf_counter()
    ranked = [h for _, h in reranker.rerank_hits(QUERY, _hits(DOCS), budget_ms=300)]
    assert time.perf_counter() - start < 1.2
    assert [h.id for h in ranked] == [str(i) for i in range(len(DOCS))]
    assert {h.scored_by for h in ranked} == {STAGE1}
    assert len(fake_cohere.requests) == 1


def test_a_budget_that_suffices_reranks_all_in_one_request(
    make: Any, fake_cohere: FakeCohere
) -> None:
    reranker = make()
    ranked = [h for _, h in reranker.rerank_hits(QUERY, _hits(DOCS), budget_ms=5_000)]
    assert [int(h.id) for h in ranked] == expected_order(QUERY, DOCS)
    assert {h.scored_by for h in ranked} == {reranker.spec}
    (seen,) = fake_cohere.requests
    assert seen.body["documents"] == DOCS


async def test_async_budget_bounds_the_request(make: Any, fake_cohere: FakeCohere) -> None:
    fake_cohere.script(Reply(delay=1.5))
    start = time.perf_counter()
    ranked = [h for _, h in await make().arerank_hits(QUERY, _hits(DOCS), budget_ms=300)]
    assert time.perf_counter() - start < 1.2
    assert {h.scored_by for h in ranked} == {STAGE1}


def test_a_timeout_shorter_than_the_budget_still_raises(make: Any, fake_cohere: FakeCohere) -> None:
    """The budget turns its own expiry into stage-1 order, not the service's timeouts."""
    fake_cohere.script(Reply(delay=1.5))
    with pytest.raises(RerankerTimeoutError):
        make(timeout=0.3, max_retries=0).rerank_hits(QUERY, _hits(DOCS), budget_ms=10_000)


def test_malformed_json_is_a_typed_error(make: Any, fake_cohere: FakeCohere) -> None:
    fake_cohere.script(Reply(200, raw=b'{"results": [{"index": 0, '))
    with pytest.raises(RerankerAPIError, match="malformed") as info:
        make().rerank(QUERY, DOCS)
    assert info.value.status_code == 200


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"id": "x"}, "no 'results' list"),
        ({"id": "x", "results": None}, "no 'results' list"),
        ({"results": [{"index": 0, "relevance_score": 0.5}]}, "scores for 1 of 8"),
        (
            {"results": [{"index": i, "relevance_score": 0.5} for i in [0, 1, 2, 3, 4, 5, 6, 6]]},
            "twice",
        ),
        ({"results": [{"index": i, "relevance_score": 0.5} for i in range(1, 9)]}, "index 8"),
        (
            {"results": [{"index": i, "relevance_score": None} for i in range(8)]},
            "relevance_score None",
        ),
    ],
)
def test_wrong_shape_200_never_drops_candidates(
    make: Any, fake_cohere: FakeCohere, body: dict, match: str
) -> None:
    fake_cohere.script(Reply(200, body))
    with pytest.raises(RerankerAPIError, match=match):
        make().rerank(QUERY, DOCS)


def test_wrong_base_path_is_a_404_naming_base_url(make: Any, fake_cohere: FakeCohere) -> None:
    with pytest.raises(RerankerAPIError, match="base_url") as info:
        make(base_url=fake_cohere.url + "/proxy").rerank(QUERY, DOCS)
    assert info.value.status_code == 404
    assert fake_cohere.requests[0].path == "/proxy/v2/rerank"


def test_base_url_with_version_suffix_is_normalised(make: Any, fake_cohere: FakeCohere) -> None:
    assert make(base_url=fake_cohere.url + "/v2/").rerank(QUERY, DOCS, top_n=1)
    assert fake_cohere.requests[0].path == "/v2/rerank"


def test_unreachable_server_is_an_api_error(make: Any) -> None:
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RerankerAPIError, match="Could not reach"):
        make(base_url=f"http://127.0.0.1:{port}", max_retries=0).rerank(QUERY, DOCS)


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": "0.5"}) == 0.5
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert (
        retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0)
        == 10.0
    )
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None
    assert retry_after_seconds(None) is None


# -- the async path: AsyncClientV2, no thread ---------------------------------------------


async def test_async_success_uses_the_async_client(make: Any, fake_cohere: FakeCohere) -> None:
    reranker = make(max_docs_per_request=3)
    results = await reranker.arerank(QUERY, DOCS, top_n=3)
    assert [r.index for r in results] == expected_order(QUERY, DOCS)[:3]
    assert len(fake_cohere.requests) == 3
    (client,) = reranker._async_clients.values()
    assert type(client).__name__ == "AsyncClientV2"
    await reranker.aclose()


async def test_async_errors_are_mapped(make: Any, fake_cohere: FakeCohere) -> None:
    with pytest.raises(AuthenticationError):
        await make(api_key="wrong").arerank(QUERY, DOCS)
    fake_cohere.script(Reply(delay=1.5))
    with pytest.raises(RerankerTimeoutError):
        await make(timeout=0.3, max_retries=0).arerank(QUERY, DOCS)
    fake_cohere.script(Reply(200, {"results": []}))
    with pytest.raises(RerankerAPIError, match="scores for 0 of 8"):
        await make().arerank(QUERY, DOCS)


async def test_async_429_is_retried_by_the_sdk(make: Any, fake_cohere: FakeCohere) -> None:
    fake_cohere.script(Reply(429, {"message": "rate limited"}, headers={"retry-after-ms": "200"}))
    results = await make(max_retries=1).arerank(QUERY, DOCS, top_n=1)
    assert results[0].index == expected_order(QUERY, DOCS)[0]
    first, second = fake_cohere.requests
    assert 0.2 <= second.at - first.at < 0.9
