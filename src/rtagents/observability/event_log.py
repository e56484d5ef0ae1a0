"""Structured logs that answer "what happened to this event, and whose fault was it?".

One record per event crossing a session boundary (in, out; at DEBUG, failures
at WARNING) and per lifecycle transition (INFO), each carrying the session,
the event type and id, an outcome and, for failures, the error's category and
origin. Plain stdlib :mod:`logging`, so
applications keep their own handlers; :func:`configure_logging` only touches
the ``rtagents`` logger.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Literal, TextIO

from ..protocol.client_text import loggable
from ..protocol.errors import RealtimeError
from .log_format import (
    QUOTED_CHARS,
    RECORD_ATTRIBUTES,
    ConsoleFormatter,
    JsonFormatter,
)

LOGGER_NAME = "rtagents"
EVENTS_LOGGER_NAME = "rtagents.events"

Side = Literal["client", "server"]
Direction = Literal["in", "out", "lifecycle"]

_ERROR_OUTCOMES = frozenset({"error", "invalid"})


_installed_handler: logging.Handler | None = None


def configure_logging(
    fmt: Literal["json", "console"] = "console",
    level: str | int = "INFO",
    stream: TextIO | None = None,
    *,
    quoted_chars: int = QUOTED_CHARS,
) -> None:
    """Send ``rtagents`` logs to ``stream`` (stderr) as JSON lines or console lines.

    Calling it again replaces the handler it installed before (never adds a
    second one). Other handlers, and the root logger, are left alone; records
    stop propagating to the root so they are not printed twice. Every value
    is written defused (escaped, cut past ``quoted_chars``): see
    :mod:`.log_format`.
    """
    global _installed_handler
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter(quoted_chars=quoted_chars)
    elif fmt == "console":
        formatter = ConsoleFormatter(quoted_chars=quoted_chars)
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

    def summary(self, message: str, fields: Mapping[str, object]) -> None:
        """A line standing for records not written (a :class:`.log_budget.LogBudget`'s report)."""
        extra: dict[str, object] = {
            "session_id": self.session_id,
            "side": self.side,
            "outcome": "summarised",
        }
        extra.update({f"{k}_" if k in RECORD_ATTRIBUTES else k: v for k, v in fields.items()})
        self.logger.warning(message, extra=extra)

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
        # The type may be a peer's text of any size: the message quotes it bounded.
        message = f"{direction} {loggable(event_type) if event_type else '?'} {outcome}"
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
            fields[f"{key}_" if key in RECORD_ATTRIBUTES or key in fields else key] = value
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
