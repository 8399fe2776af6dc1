"""``shortlist serve``: the funnel and the reranker as an HTTP service that speaks Cohere.

``POST /v2/rerank`` and ``/v1/rerank`` answer the ``cohere`` SDK (and anything built on
it) with a self-hosted model, so switching from Cohere's API to a local cross-encoder is a
change of ``base_url``; ``POST /v1/search`` runs the whole funnel over a served index;
``GET /health`` and ``GET /metrics`` are for the orchestrator and Prometheus.

Importing this package imports neither Starlette nor uvicorn (the ``[serve]`` extra):
:func:`create_app` and the server helpers load them when called.

>>> from shortlist.serve import BackgroundServer, ServeConfig, create_app
>>> app = create_app(ServeConfig(reranker="onnx:cross-encoder/ms-marco-MiniLM-L-12-v2"))
>>> with BackgroundServer(app) as server:
...     print(server.url)
"""

from __future__ import annotations

from shortlist.serve.app import create_app
from shortlist.serve.config import Limits, ServeConfig, load_api_keys
from shortlist.serve.server import BackgroundServer, run

__all__ = ["BackgroundServer", "Limits", "ServeConfig", "create_app", "load_api_keys", "run"]
