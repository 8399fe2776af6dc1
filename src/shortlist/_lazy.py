"""Lazy public names for a package ``__init__``, written once.

A package lists which submodule defines each name; the first ``pkg.Name`` imports that
submodule and caches the value on the package, so later lookups skip ``__getattr__``.
This keeps ``import shortlist`` (and each adapter package) free of heavy imports until a
name is used. Usage, at the bottom of an ``__init__.py``::

    __getattr__, __dir__ = lazy_names(__name__, {"Index": "shortlist.index"}, __all__)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_names(
    package: str, lazy: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for ``package``.

    ``lazy`` maps a name to the module that defines it (absolute, or relative to
    ``package`` when it starts with ``.``); ``public`` is the package's ``__all__``,
    which ``dir()`` lists.
    """
    listed = sorted(public)

    def __getattr__(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # cached: the next lookup is direct
        return value

    def __dir__() -> list[str]:
        return list(listed)

    return __getattr__, __dir__
