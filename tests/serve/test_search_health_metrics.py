"""``/v1/search`` (every stage's scores, as in-process), ``/health`` and ``/metrics``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from shortlist import Funnel, Pipeline
from shortlist.cli import main
from shortlist.serve import BackgroundServer, ServeConfig, create_app

from .helpers import API_KEY, WordOverlap

AUTH = {"Authorization": f"Bearer {API_KEY}"}
SAMPLE = re.compile(r'^([a-zA-Z_:][\w:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')


def parse_prometheus(text: str) -> dict[str, float]:
    """Every sample as ``name{labels}`` -> value; fails on any line that is not valid."""
    samples: dict[str, float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in {"counter", "gauge", "histogram"}, line
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        base = re.sub(r"_(total|bucket|sum|count)$", "", match.group(1))
        assert base in types or match.group(1) in types, f"sample without # TYPE: {line!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def scrape(server: BackgroundServer) -> dict[str, float]:
    reply = httpx.get(server.url + "/metrics", headers=AUTH)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse_prometheus(reply.text)


def test_search_returns_what_the_pipeline_returns(
    toy: WordOverlap, index: Any, toy_server: BackgroundServer
) -> None:
    body = {"query": "boundary layer heat transfer", "index": "cranfield", "top_n": 4,
            "fetch_k": 20, "mode": "dense"}  # fmt: skip
    reply = httpx.post(toy_server.url + "/v1/search", json=body, headers=AUTH)
    assert reply.status_code == 200, reply.text
    got = reply.json()
    want = Pipeline(index, toy).run(body["query"], top_n=4, fetch_k=20, mode="dense")
    assert [h["id"] for h in got["hits"]] == [h.id for h in want.hits]
    for served, local in zip(got["hits"], want.hits, strict=True):
        assert served["score"] == pytest.approx(local.score, abs=1e-9)
        assert served["relevance_score"] == pytest.approx(local.relevance_score, abs=1e-9)
        assert served["retrieval_score"] == pytest.approx(local.retrieval_score, abs=1e-6)
        assert served["scored_by"] == "word-overlap" and served["dense_score"] is not None
        assert served.get("fused_score") == local.fused_score  # the toy's own order: None
    assert got["index"] == "cranfield" and got["reranked"] == 4
    assert set(got["timings_ms"]) == {"retrieve", "rerank"}


def test_search_takes_the_only_index_by_default_and_filters(toy_server: BackgroundServer) -> None:
    reply = httpx.post(toy_server.url + "/v1/search", json={"query": "wing flutter"}, headers=AUTH)
    assert reply.status_code == 200 and reply.json()["hits"]
    some_id = reply.json()["hits"][0]["id"]
    only = httpx.post(
        toy_server.url + "/v1/search",
        json={"query": "wing flutter", "filters": {"id": some_id}},
        headers=AUTH,
    )
    assert only.status_code in (200, 422)  # metadata filters apply to metadata keys
    assert only.status_code != 500


def test_metrics_count_what_happened(toy_server: BackgroundServer) -> None:
    before = scrape(toy_server)
    ok = {"query": "heat", "documents": ["heat flux", "wing"]}
    for _ in range(3):
        assert httpx.post(toy_server.url + "/v2/rerank", json=ok, headers=AUTH).status_code == 200
    bad = httpx.post(toy_server.url + "/v2/rerank", json={"query": "q"}, headers=AUTH)
    assert bad.status_code == 422
    after = scrape(toy_server)

    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta('shortlist_requests_total{route="/v2/rerank",status="200"}') == 3
    assert delta('shortlist_requests_total{route="/v2/rerank",status="422"}') == 1
    assert delta('shortlist_rejected_requests_total{reason="invalid"}') == 1
    assert delta('shortlist_stage_seconds_count{stage="rerank"}') == 3
    assert delta('shortlist_request_seconds_count{route="/v2/rerank"}') == 4
    assert (
        after['shortlist_request_seconds_bucket{route="/v2/rerank",le="+Inf"}']
        == (after['shortlist_request_seconds_count{route="/v2/rerank"}'])
    )
    assert after["shortlist_ready"] == 1 and after["shortlist_in_flight_requests"] == 1
    assert 'shortlist_batcher_requests_total{reranker="word-overlap"}' in after


def test_health_is_ready_with_models(toy_server: BackgroundServer) -> None:
    reply = httpx.get(toy_server.url + "/health")
    assert reply.status_code == 200
    assert reply.json() | {"reason": None} == {
        "live": True, "ready": True, "reason": None, "reranker": "word-overlap",
        "indexes": ["cranfield"], "auth": "bearer",
    }  # fmt: skip


def test_a_model_that_fails_to_load_fails_readiness_not_the_process(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    app = create_app(ServeConfig(reranker=f"onnx:{missing}"))
    with BackgroundServer(app) as server:
        assert app.state.models.wait(30)
        health = httpx.get(server.url + "/health")
        assert health.status_code == 503
        assert health.json()["live"] is True and health.json()["ready"] is False
        assert "no-such-model" in health.json()["reason"]
        rerank = httpx.post(server.url + "/v2/rerank", json={"query": "q", "documents": ["a"]})
        assert rerank.status_code == 503 and "loading failed" in rerank.json()["message"]
        assert "shortlist_ready 0" in httpx.get(server.url + "/metrics").text


def test_the_command_line_checks_flags_before_loading(
    tmp_path: Path, onnx_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--index", f"docs={tmp_path / 'none'}"]) == 2
    assert "--index" in capsys.readouterr().err
    assert (
        main(
            [
                "serve",
                "--reranker",
                f"onnx:{onnx_model_path}",
                "--api-key-file",
                str(tmp_path / "k"),
            ]
        )
        == 2
    )
    assert "--api-key-file" in capsys.readouterr().err
    assert main(["serve"]) == 2
    assert "Nothing to serve" in capsys.readouterr().err


def test_a_funnel_reranker_that_cannot_load_here_fails_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    funnel = tmp_path / "funnel.json"
    Funnel(reranker=f"onnx:{tmp_path / 'no-model'}").save(funnel)
    assert main(["serve", "--funnel", str(funnel)]) == 2
    err = capsys.readouterr().err
    assert "--funnel" in err and "no-model" in err
