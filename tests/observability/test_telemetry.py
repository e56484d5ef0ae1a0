"""Telemetry: which sessions are traced, OTLP/HTTP to a receiver on loopback, life without the SDK.

The receiver is a small HTTP server this test starts: it accepts
``POST /v1/traces`` and decodes the protobuf body with opentelemetry-proto,
so the export is checked as a collector would see it, with the exporter
configured only by the standard ``OTEL_*`` variables.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from rtagents.client import connect
from rtagents.observability.telemetry import Telemetry, TelemetryUnavailable
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server


class Receiver(ThreadingHTTPServer):
    """Collects the decoded OTLP trace exports posted to it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ExportHandler)
        self.exports: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []


class _ExportHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.paths.append(self.path)
        if self.path == "/v1/traces":
            self.server.exports.append(ExportTraceServiceRequest.FromString(body))
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


async def test_spans_go_over_otlp_http_as_the_otel_variables_say(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{receiver.server_port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "rtagents-under-test")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    async with running_server(ServerConfig(port=0, tracing="all")) as server:
        async with connect(
            server.ws_url,
            credentials=server.api_key,
            model="gpt-realtime",
            session={"type": "realtime", "output_modalities": ["text"]},
        ) as session:
            await session.send_text("hello")
            await session.create_response()
            async with asyncio.timeout(30):
                async for event in session:
                    if event.type == "response.done":
                        break
    # Leaving running_server flushed the batch: the receiver has it now.
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}  # a slow run may batch twice
    names, services = [], set()
    for export in receiver.exports:
        for resource_spans in export.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            services.add(attributes["service.name"])
            for scope in resource_spans.scope_spans:
                assert scope.scope.name == "rtagents"
                names.extend(span.name for span in scope.spans)
    assert services == {"rtagents-under-test"}
    assert sorted(names) == ["chat gpt-realtime", "llm", "rtagents.session"]


def test_which_sessions_are_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert not Telemetry("session").wants("auto")  # no collector named: nothing to send to
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/v1/traces")
    assert Telemetry("session").wants("auto")
    provider = object()  # never used to build a tracer here
    assert not Telemetry("session", provider).wants(None)
    assert Telemetry("session", provider).wants("auto")
    assert Telemetry("session", provider).wants({"workflow_name": "support"})
    assert Telemetry("all", provider).wants(None)
    assert not Telemetry("off", provider).wants("auto")
    with pytest.raises(ValueError, match="'off', 'session' or 'all'"):
        Telemetry("sometimes")  # type: ignore[arg-type]


def test_without_the_sdk_tracing_all_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A None entry makes `import opentelemetry.sdk.trace` raise ImportError, as when absent.
    for name in [m for m in sys.modules if m.startswith("opentelemetry")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(TelemetryUnavailable, match=r"pip install 'rtagents\[telemetry\]'"):
        ServerConfig(tracing="all")
    # A session asking for tracing on a default server: no spans, one warning, no failure.
    telemetry = ServerConfig().telemetry
    with caplog.at_level(logging.WARNING, logger="rtagents.telemetry"):
        assert telemetry.tracer() is None
        assert telemetry.tracer() is None
    warnings = [r.getMessage() for r in caplog.records if r.name == "rtagents.telemetry"]
    assert len(warnings) == 1 and "rtagents[telemetry]" in warnings[0]
