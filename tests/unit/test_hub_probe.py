"""No network means a fast, accurate error, never a minute of hub retries.

Nothing here leaves the machine: the "hub" is a port on 127.0.0.1, either closed or
served by a tiny HTTP server in this process.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from shortlist import ModelNotFoundError
from shortlist.models import _probe, how_to_get, hub_unreachable, resolve_model


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub access allowed (conftest sets HF_HUB_OFFLINE=1 for every other test)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("SHORTLIST_MODEL_DIR", raising=False)
    for proxy in ("http_proxy", "https_proxy", "all_proxy"):  # loopback must stay loopback
        monkeypatch.delenv(proxy, raising=False)
        monkeypatch.delenv(proxy.upper(), raising=False)
    _probe.cache_clear()


@pytest.fixture
def local_hub() -> Iterator[str]:
    """An HTTP server on loopback that answers every request with 404."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.usefixtures("online")
def test_unreachable_hub_fails_at_once_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("nosuch-org/nosuch-model", "sentence-transformers")
    assert time.perf_counter() - start < 2
    message = str(err.value)
    assert "Hugging Face Hub cannot be reached" in message and endpoint in message
    assert "HF_HUB_OFFLINE" not in message  # it was never set: do not tell the user to unset it
    assert "SHORTLIST_MODEL_DIR" in message and "local directory" in message


@pytest.mark.usefixtures("online")
def test_any_http_answer_counts_as_reachable(
    monkeypatch: pytest.MonkeyPatch, local_hub: str
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", local_hub)
    assert hub_unreachable() is None
    # the hub client gets its chance: the name comes back for it to download
    assert resolve_model("nosuch-org/nosuch-model", "sentence-transformers") == (
        "nosuch-org/nosuch-model"
    )


def test_offline_setting_is_named_only_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="unset HF_HUB_OFFLINE"):
        resolve_model("nosuch-org/nosuch-model", "sentence-transformers")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert "HF_HUB_OFFLINE" not in how_to_get("nosuch-org/nosuch-model", "sentence-transformers")


def test_onnx_models_never_point_at_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("nosuch-org/nosuch-model", "onnx")
    assert "never downloaded" in str(err.value) and "Hub" not in how_to_get("x/y", "onnx")
