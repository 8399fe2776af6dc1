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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

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
