"""One bounded thread pool for CPU-bound work called from async code.

FAISS, torch and onnxruntime release the GIL, so running them in threads keeps the event
loop free. A dedicated pool (not the loop's implicit default executor) bounds how many
blocking calls run at once, so a burst of concurrent queries queues instead of starting a
thread each. It bounds calls, not threads: each call may use its library's own
intra-op thread pool (torch, ONNX Runtime), so N workers can still run up to N x that
many threads. Size it with the ``SHORTLIST_ASYNC_WORKERS`` environment variable (default:
CPU count).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            workers = int(os.environ.get("SHORTLIST_ASYNC_WORKERS", 0)) or (os.cpu_count() or 2)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shortlist")
        return _pool


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` in the shortlist pool and await it, carrying context variables along."""
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, fn, *args, **kwargs)
    return await loop.run_in_executor(_executor(), call)


def offloaded(
    method: Callable[Concatenate[Any, P], T],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]:
    """The async twin of a CPU-bound method: the same call, run in the shortlist pool.

    ``asearch = offloaded(search)`` writes the behaviour once. The twin looks the method up
    on the instance at call time, so a subclass that overrides ``search`` gets its own
    override offloaded, not the base class's.
    """
    name = method.__name__

    @functools.wraps(method)
    async def twin(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        bound: Callable[..., T] = getattr(self, name)
        return await run_blocking(bound, *args, **kwargs)

    twin.__name__ = twin.__qualname__ = f"a{name}" if not name.startswith("_") else f"_a{name[1:]}"
    twin.__doc__ = f"Async :meth:`{name}` (same arguments), in shortlist's worker pool."
    return twin
