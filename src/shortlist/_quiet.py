"""Silence the progress bars that model loading draws, for ``-q`` on the command line.

Our own bars obey ``show_progress``; the ones inside the libraries do not: transformers
draws "Loading weights" for every model it loads, and the hub client draws download
bars. Both go through ``transformers.utils.logging``'s switch, which this flips for the
duration of a block and then restores, so a library caller's settings are left as found.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_loading(quiet: bool = True) -> Iterator[None]:
    """Inside the block, loading a model draws no progress bar (no-op when not ``quiet``)."""
    if not quiet or importlib.util.find_spec("transformers") is None:
        yield
        return
    hf_logging = importlib.import_module("transformers.utils.logging")
    was_on = bool(hf_logging.is_progress_bar_enabled())
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
