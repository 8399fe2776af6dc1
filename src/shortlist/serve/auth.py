"""Bearer-token authentication: ``Authorization: Bearer <key>``, as the cohere SDK sends.

Every configured key is compared with :func:`hmac.compare_digest` (constant time, and all
keys are tried, so the answer's timing says nothing about which key came close). Keys are
never logged, never echoed in an error, and never part of a ``repr``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from shortlist.serve.problems import Problem


class KeyCheck:
    """The configured API keys; with none, every request is let in (an open server)."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(k.encode("utf-8") for k in keys)

    def __repr__(self) -> str:
        return f"KeyCheck(<{len(self._keys)} keys>)"

    @property
    def open(self) -> bool:
        """No key configured: anyone may call."""
        return not self._keys

    def check(self, authorization: str | None) -> None:
        """Raise a 401 :class:`Problem` unless the header carries a configured key."""
        if self.open:
            return
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(
                401,
                "Missing API key: send the header 'Authorization: Bearer <key>'.",
                "unauthorized",
                {"WWW-Authenticate": "Bearer"},
            )
        given = token.strip().encode("utf-8")
        matched = False
        for key in self._keys:  # no early exit: every key costs the same
            matched |= hmac.compare_digest(given, key)
        if not matched:
            raise Problem(401, "Invalid API key.", "unauthorized", {"WWW-Authenticate": "Bearer"})
