"""Registries a lower layer owns and a higher layer (or another package) extends.

A registry maps a name to ``"module:attribute"``, imported only when that name is used.
The owning layer lists its built-ins; a plug-in declares its own entries as entry points
of the registry's group (``[project.entry-points."shortlist.rerankers"]`` in its
``pyproject.toml``). So the owner never imports its plug-ins -- layers point down -- and
yet ``load_reranker("ray:...")`` works without importing :mod:`shortlist.scale` first.
Code may also add an entry at run time (``BACKENDS["mine"] = "pkg.mod:MyReranker"``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from shortlist.errors import InvalidInputError


class Registry(MutableMapping[str, str]):
    """Name -> ``"module:attribute"``: built-ins plus the entry points of ``group``.

    Entry points are read on first use, not at import (reading them scans the installed
    packages' metadata). A plug-in never replaces a built-in of the same name.
    """

    def __init__(self, group: str, builtins: Mapping[str, str]) -> None:
        self.group = group
        self._entries = dict(builtins)
        self._discovered = False

    def _all(self) -> dict[str, str]:
        if not self._discovered:
            from importlib.metadata import entry_points

            for entry in entry_points(group=self.group):
                self._entries.setdefault(entry.name, entry.value)
            self._discovered = True
        return self._entries

    def __getitem__(self, name: str) -> str:
        return self._all()[name]

    def __setitem__(self, name: str, target: str) -> None:
        module, sep, attribute = target.partition(":")
        if not (module and sep and attribute):
            raise InvalidInputError(
                f"A registry entry is 'module:attribute' (e.g. 'my_pkg.rerank:MyReranker'), "
                f"got {target!r}."
            )
        self._all()[name] = target

    def __delitem__(self, name: str) -> None:
        del self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"Registry({self.group!r}, {self._all()!r})"

    def load(self, name: str) -> Any:
        """Import and return what ``name`` names (a ``KeyError`` for an unknown name)."""
        module, _, attribute = self[name].partition(":")
        return getattr(importlib.import_module(module), attribute)
