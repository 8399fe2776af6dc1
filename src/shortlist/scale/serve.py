"""Any shortlist reranker as Ray Serve replicas, and the ``"ray:DEPLOYMENT"`` reranker that
calls them.

Reranking is what outgrows one machine first (about a second per query at N=100 on two
cores), so the model runs as a Ray Serve deployment: replicas on the cluster's nodes,
their number fixed or autoscaled by Serve, and ``@serve.batch`` gathering concurrent
requests into one call per replica. Clients change one string: ``load_reranker("ray:
shortlist-reranker")`` (or ``reranker="ray:..."`` in the LangChain compressor and the
LlamaIndex postprocessor) scores on the replicas, sync or async, with the same scores as
the local reranker, and reports which member of a fallback chain answered.

    ray.init(address="auto")
    serve_reranker("onnx:/models/ms-marco-MiniLM-L-12-v2-onnx-int8", num_replicas=4)
    pipeline = Pipeline(index, reranker="ray:shortlist-reranker")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from shortlist import defaults, plan
from shortlist._optional import require
from shortlist.errors import InvalidInputError
from shortlist.rerank.base import Reranker, sourced_plan
from shortlist.rerank.scoring import Sourced
from shortlist.scale import ray_module
from shortlist.spec import format_spec

DEFAULT_NAME = "shortlist-reranker"
"""The Serve application (and deployment) name ``serve_reranker`` uses by default."""


class RerankerReplica:
    """One replica: the reranker ``spec`` names, loaded once; batches concurrent requests."""

    def __init__(self, spec: str) -> None:
        from shortlist.rerank import load_reranker

        self.reranker = load_reranker(spec)
        self.batch_sizes: list[int] = []

    async def score(self, request: tuple[str, list[str]]) -> tuple[list[float], str]:
        return await self._score_batch(request)  # type: ignore[no-any-return, attr-defined]

    async def _score_many(
        self, requests: list[tuple[str, list[str]]]
    ) -> list[tuple[list[float], str]]:
        """What ``@serve.batch`` calls with the requests it gathered."""
        self.batch_sizes.append(len(requests))
        out = []
        for query, texts in requests:
            scores, source = await plan.arun(sourced_plan(self.reranker, query, texts))
            out.append((scores.tolist(), source))
        return out

    def stats(self) -> dict[str, Any]:
        """The batch sizes ``@serve.batch`` formed on this replica so far."""
        return {"spec": self.reranker.spec, "batch_sizes": list(self.batch_sizes)}


def reranker_app(
    spec: str,
    *,
    name: str = DEFAULT_NAME,
    num_replicas: int | str = 1,
    autoscaling_config: Mapping[str, Any] | None = None,
    max_batch_size: int = 8,
    batch_wait_timeout_s: float = 0.005,
    ray_actor_options: Mapping[str, Any] | None = None,
) -> Any:
    """The Serve application for ``spec`` (bind it into your own app, or ``serve.run`` it)."""
    serve = require("ray.serve", feature="Serving rerankers on Ray", extra="ray")
    from shortlist.rerank import check_reranker

    check_reranker(spec)  # a typo fails here, not inside a replica

    class BatchingReplica(RerankerReplica):
        @serve.batch(max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_timeout_s)  # type: ignore[untyped-decorator]
        async def _score_batch(
            self, requests: list[tuple[str, list[str]]]
        ) -> list[tuple[list[float], str]]:
            return await self._score_many(requests)

    options: dict[str, Any] = {
        "name": name,
        "ray_actor_options": dict(ray_actor_options or {"num_cpus": 0.5}),
    }
    if autoscaling_config is not None:
        options["autoscaling_config"] = dict(autoscaling_config)
    else:
        options["num_replicas"] = num_replicas
    return serve.deployment(**options)(BatchingReplica).bind(spec)


def serve_reranker(spec: str, *, name: str = DEFAULT_NAME, **options: Any) -> Any:
    """Deploy ``spec`` as replicas on the current Ray cluster; returns the Serve handle."""
    serve = require("ray.serve", feature="Serving rerankers on Ray", extra="ray")
    app = reranker_app(spec, name=name, **options)
    return serve.run(app, name=name, route_prefix=None, blocking=False)


class RayServeReranker(Reranker):
    """A reranker whose scores come from Serve replicas (``"ray:DEPLOYMENT"``).

    Args:
        model: the Serve application name (``serve_reranker``'s ``name``).
        deployment: the deployment inside it (default: the same name).
        timeout: seconds to wait for a replica before raising ``TimeoutError``.
    """

    backend = "ray"
    default_fusion = defaults.FUSION  # replicas of a local cross-encoder
    budget_chunk = None  # a remote call: the budget bounds it as a whole

    def __init__(
        self, model: str = DEFAULT_NAME, *, deployment: str | None = None, timeout: float = 60.0
    ) -> None:
        if not isinstance(timeout, int | float) or not timeout > 0:
            raise InvalidInputError(
                f"timeout must be a positive number of seconds, got {timeout!r}."
            )
        serve = require("ray.serve", feature="Serving rerankers on Ray", extra="ray")
        if not ray_module().is_initialized():
            raise InvalidInputError(
                "The 'ray' reranker calls Serve replicas: connect first with "
                "ray.init(address=...) (and deploy with shortlist.scale.serve_reranker)."
            )
        self.app, self.deployment, self.timeout = model, deployment or model, float(timeout)
        try:
            self._handle = serve.get_deployment_handle(self.deployment, app_name=self.app)
        except Exception as exc:  # Serve raises plain exceptions for unknown names
            raise InvalidInputError(
                f"No Ray Serve deployment {self.deployment!r} in application {self.app!r}: "
                f"{exc}. Deploy one with shortlist.scale.serve_reranker(spec, name=...)."
            ) from exc

    @property
    def spec(self) -> str:
        deployment = None if self.deployment == self.app else self.deployment
        return format_spec(self.backend, self.app, {"deployment": deployment})

    def _score(self, query: str, texts: list[str]) -> Sourced:
        response = self._handle.score.remote((query, texts))
        scores, source = response.result(timeout_s=self._time_left())
        return Sourced(np.asarray(scores, dtype=np.float64), source)  # the member that scored

    async def _ascore(self, query: str, texts: list[str]) -> Sourced:
        import asyncio

        scores, source = await asyncio.wait_for(
            self._handle.score.remote((query, texts)), timeout=self._time_left()
        )
        return Sourced(np.asarray(scores, dtype=np.float64), source)

    def _time_left(self) -> float:
        """The call's timeout: ours, or what is left of a latency budget when shorter."""
        from shortlist.rerank.budget import seconds_left

        left = seconds_left()
        return self.timeout if left is None else max(0.001, min(self.timeout, left))

    def stats(self) -> dict[str, Any]:
        """A replica's batch statistics (the replica that answers)."""
        result: dict[str, Any] = self._handle.stats.remote().result(timeout_s=self.timeout)
        return result
