"""Structured logs that answer "what happened to this event, and whose fault was it?".

One record per event crossing a session boundary (in, out; at DEBUG, failures
at WARNING) and per lifecycle transition (INFO), each carrying the session,
the event type and id, an outcome and, for failures, the error's category and
origin. Plain stdlib :mod:`logging`, so
applications keep their own handlers; :func:`configure_logging` only touches
the ``rtagents`` logger.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, Literal, TextIO

from ..protocol.errors import RealtimeError

LOGGER_NAME = "rtagents"
EVENTS_LOGGER_NAME = "rtagents.events"

Side = Literal["client", "server"]
Direction = Literal["in", "out", "lifecycle"]

# Attributes every LogRecord has; anything else on a record is a structured field.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "taskName"}
_ERROR_OUTCOMES = frozenset({"error", "invalid"})
# Fields the console line already shows in its fixed columns.
_CONSOLE_SHOWN = frozenset({"session_id", "side", "direction", "event_type", "outcome"})


def structured_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller attached with ``extra=``, in insertion order."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, then every field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in structured_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """``12:00:01.123 INFO  sess_ab12 in  session.update ok event_id=evt_1``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = structured_fields(record)
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        head = f"{clock}.{int(record.msecs):03d} {record.levelname:<5}"
        if "session_id" in fields:
            head += f" {fields['session_id']}"
        extras = " ".join(
            f"{k}={_console_value(v)}"
            for k, v in fields.items()
            if k not in _CONSOLE_SHOWN and v is not None
        )
        line = f"{head} {_console_message(record, fields)}" + (f" {extras}" if extras else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _console_message(record: logging.LogRecord, fields: Mapping[str, Any]) -> str:
    """Events read as aligned columns (``in  session.update ok``); other records as logged."""
    if fields.get("direction") in ("in", "out"):
        event_type = fields.get("event_type") or "?"
        return f"{fields['direction']:<3} {event_type} {fields.get('outcome')}"
    return record.getMessage()


def _iso_utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created * 1000) % 1000:03d}Z"


def _console_value(value: object) -> str:
    text = str(value)
    return (
        json.dumps(text, ensure_ascii=False) if not text or any(c.isspace() for c in text) else text
    )


_installed_handler: logging.Handler | None = None


def configure_logging(
    fmt: Literal["json", "console"] = "console",
    level: str | int = "INFO",
    stream: TextIO | None = None,
) -> None:
    """Send ``rtagents`` logs to ``stream`` (stderr) as JSON lines or console lines.

    Calling it again replaces the handler it installed before (never adds a
    second one). Other handlers, and the root logger, are left alone; records
    stop propagating to the root so they are not printed twice.
    """
    global _installed_handler
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter()
    elif fmt == "console":
        formatter = ConsoleFormatter()
    else:
        raise ValueError(f"log format must be 'json' or 'console', got {fmt!r}")
    numeric_level = _parse_level(level)
    logger = logging.getLogger(LOGGER_NAME)
    if _installed_handler is not None:
        logger.removeHandler(_installed_handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(numeric_level)
    logger.propagate = False
    _installed_handler = handler


def _parse_level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    names = logging.getLevelNamesMapping()
    if level.upper() not in names:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(sorted(names))}")
    return names[level.upper()]


class EventLog:
    """Logs the events of one session, from one side, with the same fields every time.

    ``session_id`` may be reassigned once it is known (a client learns it from
    ``session.created``).
    """

    def __init__(
        self,
        session_id: str,
        *,
        side: Side,
        logger: logging.Logger | None = None,
    ) -> None:
        self.session_id = session_id
        self.side = side
        self.logger = logger if logger is not None else logging.getLogger(EVENTS_LOGGER_NAME)

    def inbound(
        self,
        event_type: str | None,
        event_id: str | None = None,
        *,
        outcome: str = "ok",
        error: RealtimeError | None = None,
        **fields: object,
    ) -> None:
        """An event this side received."""
        self._event("in", event_type, event_id, outcome, error, fields)

    def outbound(
        self,
        event_type: str | None,
        event_id: str | None = None,
        *,
        outcome: str = "ok",
        error: RealtimeError | None = None,
        **fields: object,
    ) -> None:
        """An event this side sent (or tried to send)."""
        self._event("out", event_type, event_id, outcome, error, fields)

    def lifecycle(self, source: str, target: str, trigger: str, cause: str | None = None) -> None:
        """A transition of the session lifecycle."""
        level = logging.WARNING if target.lower() == "failed" else logging.INFO
        if not self.logger.isEnabledFor(level):
            return
        message = f"lifecycle {source} -> {target} on {trigger}"
        extra = {"source": source, "target": target, "trigger": trigger, "cause": cause}
        self._emit(level, message, "lifecycle", None, None, "ok", extra)

    def _event(
        self,
        direction: Direction,
        event_type: str | None,
        event_id: str | None,
        outcome: str,
        error: RealtimeError | None,
        fields: Mapping[str, object],
    ) -> None:
        level = _event_level(event_type, outcome, error)
        if not self.logger.isEnabledFor(level):
            return  # audio deltas arrive by the hundred per second
        extra: dict[str, object] = dict(fields)
        if error is not None:
            details = error.to_dict()
            extra.update(
                category=details["category"],
                origin=details["origin"],
                code=details["code"],
                param=details["param"],
                error_message=details["message"],
            )
        message = f"{direction} {event_type or '?'} {outcome}"
        self._emit(level, message, direction, event_type, event_id, outcome, extra)

    def _emit(
        self,
        level: int,
        message: str,
        direction: Direction,
        event_type: str | None,
        event_id: str | None,
        outcome: str,
        extra: Mapping[str, object],
    ) -> None:
        fields: dict[str, object] = {
            "session_id": self.session_id,
            "side": self.side,
            "direction": direction,
            "event_type": event_type,
            "event_id": event_id,
            "outcome": outcome,
        }
        for key, value in extra.items():
            fields[f"{key}_" if key in _RECORD_ATTRIBUTES or key in fields else key] = value
        self.logger.log(level, message, extra=fields)


def _event_level(event_type: str | None, outcome: str, error: RealtimeError | None) -> int:
    """Failures at WARNING; every other protocol event at DEBUG.

    INFO is for people watching a server: session lifecycle and one summary
    line per turn (``rtagents.server.turns``), not the dozens of events a turn
    is made of.
    """
    if error is not None or outcome in _ERROR_OUTCOMES or event_type == "error":
        return logging.WARNING
    if outcome == "unknown":
        return logging.INFO  # a type this version does not know: said once per type
    return logging.DEBUG
