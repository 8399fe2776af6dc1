"""A sharded index's shards on Ray actors (:class:`RayShards`): the ``"ray"`` placement.

It plugs into :data:`shortlist.index.shards.SHARD_BACKENDS` through the ``shortlist.shards``
entry point in ``pyproject.toml``, so ``ShardedIndex(ray=True)`` finds it without the index
layer importing this package. Each actor runs the same
:class:`~shortlist.index.shard.ShardWorker` as a shard in this process; a call goes to
every shard at once and waits for all of them (scatter, then gather).
"""

from __future__ import annotations

from typing import Any

from shortlist.errors import ShortlistError
from shortlist.index.shard import ShardWorker
from shortlist.scale import ray_module

CALL_TIMEOUT_S = 600.0
"""A shard that does not answer within this long fails the call instead of hanging it."""


class ShardUnavailableError(ShortlistError):
    """A shard actor died or did not answer in time; the call did not complete."""


class RayShards:
    """One Ray actor per shard, each reserving ``cpus`` CPUs of the cluster."""

    def __init__(
        self,
        options: dict[str, Any],
        paths: list[str | None],
        cpus: float,
        placement: dict[str, Any] | None = None,
    ) -> None:
        ray = ray_module()
        if not ray.is_initialized():
            raise ShardUnavailableError(
                "ShardedIndex(ray=True) needs a Ray cluster: call ray.init() (or "
                "ray.init(address=...)) first."
            )
        self._ray = ray
        actor = ray.remote(ShardWorker).options(
            num_cpus=cpus, max_concurrency=4, **(placement or {})
        )
        self.actors = [actor.remote(**options, path=p) for p in paths]
        self._get([a.ready.remote() for a in self.actors])

    def __len__(self) -> int:
        return len(self.actors)

    def _get(self, refs: list[Any]) -> list[Any]:
        try:
            return list(self._ray.get(refs, timeout=CALL_TIMEOUT_S))
        except (self._ray.exceptions.RayActorError, self._ray.exceptions.GetTimeoutError) as exc:
            raise ShardUnavailableError(f"A shard actor failed or timed out: {exc}") from exc

    def _args(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """Large arrays go to the object store once, not once per shard."""
        return tuple(
            self._ray.put(a) if hasattr(a, "nbytes") and a.nbytes > 1 << 16 else a for a in args
        )

    def each(self, method: str, *args: Any) -> list[Any]:
        shared = self._args(args)
        return self._get([getattr(a, method).remote(*shared) for a in self.actors])

    def one(self, shard: int, method: str, *args: Any) -> Any:
        return self._get([getattr(self.actors[shard], method).remote(*args)])[0]

    def some(self, calls: dict[int, tuple[str, tuple[Any, ...]]]) -> list[Any]:
        return self._get([getattr(self.actors[s], m).remote(*a) for s, (m, a) in calls.items()])

    def close(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)
        self.actors = []
