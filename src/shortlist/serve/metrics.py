"""``GET /metrics``: Prometheus text exposition (format 0.0.4), written by hand.

No client library: a few counters and fixed-bucket histograms are less code than the
dependency. Memory is bounded by construction: buckets are fixed, routes and statuses are
mapped onto fixed vocabularies (anything else is ``other``), and per-reranker series are
one per member of the served chain. Everything is updated on the event loop's thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shortlist.rerank import Reranker
    from shortlist.serve.admission import Admission
    from shortlist.serve.models import Models

BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Latency histogram bounds in seconds, the same for every histogram."""
ROUTES = ("/v1/rerank", "/v2/rerank", "/v1/search", "/health", "/metrics")
STATUSES = (200, 400, 401, 404, 405, 413, 422, 429, 500, 503, 504)
STAGES = ("queue", "retrieve", "rerank")
REJECTIONS = (
    "bad_request", "invalid", "too_large", "unauthorized", "queue_full", "queue_timeout",
    "deadline", "not_ready", "upstream", "error",
)  # fmt: skip
BREAKER = {"closed": 0, "half_open": 1, "open": 2}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Histogram:
    """Cumulative-on-render bucket counts, their sum and count."""

    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_S))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        """Count one observation in the first bucket that holds it (or only in +Inf)."""
        self.n += 1
        self.total += seconds
        for i, bound in enumerate(BUCKETS_S):
            if seconds <= bound:
                self.counts[i] += 1
                break

    def lines(self, name: str, labels: str) -> Iterator[str]:
        """The ``_bucket``/``_sum``/``_count`` samples under ``labels`` (``k="v",``...)."""
        running = 0
        for bound, count in zip(BUCKETS_S, self.counts, strict=True):
            running += count
            yield f'{name}_bucket{{{labels}le="{bound:g}"}} {running}'
        yield f'{name}_bucket{{{labels}le="+Inf"}} {self.n}'
        yield f"{name}_sum{{{labels.rstrip(',')}}} {self.total:.6f}"
        yield f"{name}_count{{{labels.rstrip(',')}}} {self.n}"


class Metrics:
    """The server's counters; :meth:`render` adds the live state of models and queue."""

    def __init__(self) -> None:
        self.started = time.time()
        self.requests: dict[tuple[str, str], int] = {}
        self.latency = {route: Histogram() for route in (*ROUTES, "other")}
        self.stages = {stage: Histogram() for stage in STAGES}
        self.rejected = dict.fromkeys(REJECTIONS, 0)
        self.in_flight = 0

    def request_done(self, path: str, status: int, seconds: float) -> None:
        """Count a finished request under its (bounded) route and status."""
        route = path if path in ROUTES else "other"
        code = str(status) if status in STATUSES else "other"
        self.requests[(route, code)] = self.requests.get((route, code), 0) + 1
        self.latency[route].observe(seconds)

    def reject(self, reason: str) -> None:
        """Count a refused request (reasons outside the vocabulary count as ``error``)."""
        key = reason if reason in self.rejected else "error"
        self.rejected[key] += 1

    def render(self, models: Models, admission: Admission) -> str:
        """The exposition text."""
        out: list[str] = []
        _family(out, "shortlist_requests", "counter", "HTTP requests by route and status.")
        for (route, code), n in sorted(self.requests.items()):
            out.append(f'shortlist_requests_total{{route="{route}",status="{code}"}} {n}')
        _family(out, "shortlist_request_seconds", "histogram", "Request latency by route.")
        for route, hist in self.latency.items():
            out.extend(hist.lines("shortlist_request_seconds", f'route="{route}",'))
        _family(out, "shortlist_stage_seconds", "histogram", "Time per stage: queue wait, "
                "stage-1 retrieval, reranking.")  # fmt: skip
        for stage, hist in self.stages.items():
            out.extend(hist.lines("shortlist_stage_seconds", f'stage="{stage}",'))
        _family(out, "shortlist_rejected_requests", "counter", "Requests refused, by reason.")
        for reason, n in self.rejected.items():
            out.append(f'shortlist_rejected_requests_total{{reason="{reason}"}} {n}')
        _gauges(out, self.in_flight, admission, models)
        if models.reranker is not None:
            _reranker(out, models.reranker)
        return "\n".join(out) + "\n"


def _family(out: list[str], name: str, kind: str, help_text: str) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")


def _gauges(out: list[str], in_flight: int, admission: Admission, models: Models) -> None:
    for name, value, help_text in (
        ("shortlist_in_flight_requests", in_flight, "Requests being handled now."),
        ("shortlist_admitted_requests", admission.active, "Requests holding a slot now."),
        ("shortlist_queued_requests", admission.waiting, "Requests waiting for a slot now."),
        ("shortlist_ready", int(models.ready), "1 when every model loaded."),
    ):
        _family(out, name, "gauge", help_text)
        out.append(f"{name} {value}")


def _reranker(out: list[str], reranker: Reranker) -> None:
    members = list(getattr(reranker, "members", [reranker]))
    _family(out, "shortlist_batcher_requests", "counter", "Score requests the batcher served.")
    _family(out, "shortlist_batcher_batches", "counter", "Batches the batcher ran "
            "(requests / batches = mean batch size).")  # fmt: skip
    _family(out, "shortlist_batcher_largest_batch", "gauge", "Most requests in one batch.")
    for member in members:
        stats, label = member.batch_stats(), _label(member.spec)
        out.append(f'shortlist_batcher_requests_total{{reranker="{label}"}} {stats.requests}')
        out.append(f'shortlist_batcher_batches_total{{reranker="{label}"}} {stats.batches}')
        out.append(f'shortlist_batcher_largest_batch{{reranker="{label}"}} {stats.largest}')
    info = reranker.cache_info()
    if info is not None:
        for name, value, kind in (
            ("shortlist_cache_hits_total", info.hits, "counter"),
            ("shortlist_cache_misses_total", info.misses, "counter"),
            ("shortlist_cache_pairs", info.size, "gauge"),
        ):
            out.append(f"# TYPE {name.removesuffix('_total')} {kind}")
            out.append(f"{name} {value}")
    states = list(breaker_states(reranker))
    if states:
        _family(out, "shortlist_breaker_state", "gauge", "Fallback member circuit breaker: "
                "0 closed, 1 half-open (probing), 2 open (skipped).")  # fmt: skip
        for spec, state in states:
            out.append(f'shortlist_breaker_state{{reranker="{_label(spec)}"}} {BREAKER[state]}')


def breaker_states(reranker: Reranker) -> Iterable[tuple[str, str]]:
    """(member spec, "closed" | "half_open" | "open") for a fallback chain; nothing else."""
    from shortlist.rerank.fallback import FallbackReranker

    return reranker.breaker_states() if isinstance(reranker, FallbackReranker) else []


def _label(value: str) -> str:
    """A label value escaped as the exposition format asks (backslash, quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
