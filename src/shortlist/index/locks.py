"""Inter-process locks for an index folder, so concurrent saves and loads stay correct.

Two lock files, both ``flock``-ed (advisory, released by the OS if a process dies):

* ``.write.lock`` -- held exclusively for a whole save, so two writers (threads or
  processes) never interleave; the second waits, then commits after the first.
* ``.read.lock`` -- held shared while a load reads the current generation, and
  exclusively by a writer only around its commit and cleanup, so a generation is never
  deleted under a reader that is still reading it.

Where locks cannot be taken (a read-only folder, a platform without ``fcntl``), loading
goes ahead without one: there is no writer to race with on a read-only folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

WRITE_LOCK = ".write.lock"
READ_LOCK = ".read.lock"
NAMES = (WRITE_LOCK, READ_LOCK)


@contextmanager
def held(directory: Path, name: str, *, exclusive: bool) -> Iterator[None]:
    """Hold lock file ``name`` in ``directory`` (created if missing) for the block."""
    path = directory / name
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if exclusive:
            raise
        yield  # read-only folder: nothing can write here, so nothing to lock against
        return
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the flock
