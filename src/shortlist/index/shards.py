"""Where a sharded index's shards run, and how a call reaches them (scatter, then gather).

:class:`LocalShards` keeps them in this process. Other placements are plug-ins named in
:data:`SHARD_BACKENDS`: ``shortlist.scale`` declares ``"ray"`` (one Ray actor per shard)
as an entry point, so this layer never imports Ray or :mod:`shortlist.scale`. Every
placement runs the same :class:`~shortlist.index.shard.ShardWorker`, so they cannot
behave differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from shortlist._plugins import Registry
from shortlist.errors import MissingDependencyError
from shortlist.index.shard import ShardWorker

SHARD_BACKENDS = Registry("shortlist.shards", {})
"""Placement name -> ``"module:factory"``; a factory is called as
``factory(options, paths, cpus, placement)`` and returns :class:`Shards`."""


class Shards(Protocol):
    """The shards of one index, seen from the index."""

    def __len__(self) -> int: ...

    def each(self, method: str, *args: Any) -> list[Any]:
        """``method(*args)`` on every shard, results in shard order."""
        ...

    def one(self, shard: int, method: str, *args: Any) -> Any: ...

    def some(self, calls: dict[int, tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """A call per listed shard (``{shard: (method, args)}``), results in that order."""
        ...

    def close(self) -> None: ...


class LocalShards:
    """Shards in this process: calls run one after another (each uses the CPU fully)."""

    def __init__(self, workers: list[ShardWorker]) -> None:
        self.workers = workers

    def __len__(self) -> int:
        return len(self.workers)

    def each(self, method: str, *args: Any) -> list[Any]:
        return [getattr(w, method)(*args) for w in self.workers]

    def one(self, shard: int, method: str, *args: Any) -> Any:
        return getattr(self.workers[shard], method)(*args)

    def some(self, calls: dict[int, tuple[str, tuple[Any, ...]]]) -> list[Any]:
        return [getattr(self.workers[s], m)(*a) for s, (m, a) in calls.items()]

    def close(self) -> None:
        self.workers = []


def start_shards(
    options: dict[str, Any], paths: list[str | None], ray: bool | Mapping[str, Any], cpus: float
) -> Shards:
    """Shards that start empty (``None``) or on a saved folder: here, or on Ray actors
    (``ray=True``, or a dict of Ray actor options that places them)."""
    if ray is False:
        return LocalShards([ShardWorker(**options, path=p) for p in paths])
    if "ray" not in SHARD_BACKENDS:
        raise MissingDependencyError(
            "Shards on Ray need shortlist's Ray plug-in, which is declared when shortlist is "
            "installed: `pip install 'shortlist[ray]'` (reinstall a source checkout with "
            "`pip install -e .` so its entry points are registered)."
        )
    placement = {} if ray is True else dict(ray)
    shards: Shards = SHARD_BACKENDS.load("ray")(options, paths, cpus, placement)
    return shards
