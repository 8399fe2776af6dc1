"""Past one machine, on Ray (``pip install 'shortlist[ray]'``): shard actors for a
:class:`~shortlist.index.ShardedIndex` (:mod:`.actors`), corpus encoding with Ray Data
(:mod:`.encode`), and rerankers served as Ray Serve replicas (:mod:`.serve`).

Nothing here imports Ray until it is used, so ``import shortlist`` never does.
"""

from __future__ import annotations

from typing import Any

from shortlist._optional import require


def ray_module() -> Any:
    """Ray, or the install hint."""
    return require("ray", feature="Scaling out with Ray", extra="ray")
