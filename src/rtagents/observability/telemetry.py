"""OpenTelemetry for a server: which sessions are traced, and where their spans go.

The ``telemetry`` extra (``pip install 'rtagents[telemetry]'``: the
OpenTelemetry SDK and its OTLP/HTTP exporter) is optional. Everything here
imports without it; only building a tracer needs it, and asking for tracing
without it fails with :class:`TelemetryUnavailable`, which says what to install.

Which sessions are traced (``ServerConfig.tracing``, ``serve --tracing``):
``session`` (the default) traces a session whose ``tracing`` field is set
(``"auto"`` or a tracing configuration), as the hosted API does, once an
OTLP endpoint variable is set (or a provider given); ``all`` traces every
session (to ``localhost:4318`` when no endpoint is set); ``off`` none.
Spans go to an OTLP/HTTP collector configured by the standard variables
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SERVICE_NAME`` (default ``rtagents``),
``OTEL_RESOURCE_ATTRIBUTES``), unless a test hands in its own tracer provider.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Literal

TracingMode = Literal["off", "session", "all"]
INSTRUMENTATION = "rtagents"
INSTALL_HINT = "install the telemetry extra: pip install 'rtagents[telemetry]'"

log = logging.getLogger("rtagents.telemetry")


class TelemetryUnavailable(RuntimeError):
    """Tracing was asked for, but the OpenTelemetry SDK is not installed."""


def telemetry_installed() -> bool:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


class Telemetry:
    """One server's tracing: the mode, and the tracer (built on first use).

    ``provider`` is an SDK ``TracerProvider`` (tests pass one with an
    in-memory exporter); None builds one exporting over OTLP/HTTP from the
    ``OTEL_*`` variables, which :meth:`shutdown` flushes and closes.
    """

    def __init__(self, mode: TracingMode = "session", provider: Any = None) -> None:
        if mode not in ("off", "session", "all"):
            raise ValueError(f"tracing must be 'off', 'session' or 'all', not {mode!r}")
        if mode == "all" and provider is None and not telemetry_installed():
            raise TelemetryUnavailable(
                f"tracing 'all' needs the OpenTelemetry SDK, which is not installed; {INSTALL_HINT}"
            )
        self.mode: TracingMode = mode
        # "session" traces only when spans have somewhere to go: a client that sets
        # `tracing` (the Agents SDK does by default) must not make a server with no
        # collector retry exports to localhost:4318 for ever.
        self._exporting = provider is not None or mode == "all" or _endpoint_configured()
        self._provider = provider
        self._owns_provider = provider is None
        self._tracer: Any = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        """Whether any session can be traced (else sessions get no tracing observer)."""
        return self.mode == "all" or (self.mode == "session" and self._exporting)

    def wants(self, session_tracing: object) -> bool:
        """Whether a session whose ``tracing`` field is ``session_tracing`` is traced."""
        if self.mode == "all":
            return True
        return self.mode == "session" and self._exporting and session_tracing is not None

    def tracer(self) -> Any | None:
        """The tracer, or None (logged once) when the SDK is missing."""
        if self._tracer is None:
            try:
                if self._provider is None:
                    self._provider = _otlp_provider()
            except TelemetryUnavailable as exc:
                if not self._warned:
                    self._warned = True
                    log.warning("a session asked for tracing, but %s", exc)
                return None
            self._tracer = self._provider.get_tracer(INSTRUMENTATION)
        return self._tracer

    def shutdown(self) -> None:
        """Export what is buffered and stop the exporter (only the provider built here)."""
        if self._owns_provider and self._provider is not None:
            self._provider.shutdown()
            self._provider = None
            self._tracer = None


def _endpoint_configured() -> bool:
    return any(
        os.environ.get(name)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _otlp_provider() -> Any:
    """A tracer provider batching spans to OTLP/HTTP, configured by the ``OTEL_*`` variables."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise TelemetryUnavailable(
            f"the OpenTelemetry SDK is not installed; {INSTALL_HINT}"
        ) from exc
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    attributes = {} if named else {"service.name": "rtagents"}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
