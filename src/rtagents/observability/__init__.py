"""Structured logging (and, later, tracing and recording) for every layer."""

from .event_log import EventLog, configure_logging
from .log_format import ConsoleFormatter, JsonFormatter, structured_fields

__all__ = [
    "ConsoleFormatter",
    "EventLog",
    "JsonFormatter",
    "configure_logging",
    "structured_fields",
]
