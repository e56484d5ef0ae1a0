"""``GET /metrics``: the server's Prometheus metrics, behind its API key or on a port of their own.

Metrics name sessions' event types, error codes and latencies, nothing
secret, but they tell an outsider how busy and how healthy a node is, so
the route asks for the API key (``Authorization: Bearer <key>``; a client
secret is refused: it is handed to browsers). A scraper that cannot send a
header uses ``serve --metrics-port``: a listener of its own, without auth,
which the operator keeps on a private network; the main port then has no
``/metrics`` at all. docs/debugging.md, "Metrics and traces".
"""

from __future__ import annotations

import functools
import hmac
import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import start_http_server
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..engines.base import Engines
from ..observability.metrics import CONTENT_TYPE_LATEST, ServerMetrics
from .auth import Refusal, bearer_credential
from .config import ServerConfig


def watch_engine_queues(engines: Engines, metrics: ServerMetrics) -> None:
    """Engines that queue jobs for worker threads report each wait (Whisper's pool today)."""
    for stage, engine in (("stt", engines.stt), ("tts", engines.tts)):
        if engine is not None and hasattr(engine, "on_queue_wait"):
            engine.on_queue_wait = functools.partial(metrics.observe_queue_wait, stage)


def metrics_routes(config: ServerConfig, open_sessions: Callable[[], int]) -> list[Route]:
    """The ``/metrics`` route (none when metrics have a port of their own)."""
    config.metrics.count_sessions_with(open_sessions)
    if config.metrics_port is not None:
        return []
    return [Route("/metrics", _metrics, methods=["GET"])]


async def _metrics(request: Request) -> Response:
    config: ServerConfig = request.app.state.rtagents.config
    try:
        credential = bearer_credential(request.headers)
    except Refusal as exc:
        return exc.response()
    if credential is None or not hmac.compare_digest(
        credential.value.encode(), config.effective_api_key.encode()
    ):
        return Refusal(
            401,
            "invalid_api_key",
            "GET /metrics needs the server's API key: 'Authorization: Bearer <API key>' "
            "(or serve them on a port of their own with --metrics-port).",
        ).response()
    return Response(config.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


class MetricsListener:
    """``/metrics`` on a port of its own (prometheus-client's threaded HTTP server)."""

    def __init__(self, config: ServerConfig) -> None:
        assert config.metrics_port is not None
        server: Any
        server, thread = start_http_server(
            config.metrics_port, addr=config.host, registry=config.metrics.registry
        )
        self._server = server
        self._thread: threading.Thread = thread
        self.port: int = server.server_address[1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
