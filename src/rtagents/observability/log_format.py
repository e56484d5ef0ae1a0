"""The two log line formats (JSON and console), which defuse every value they write.

Record fields carry what the code had at hand, often a peer's text (an event
``type``, an ``item_id``, a model name, a server's error message on the
client side). Defusing once, here, means no call site can forget it: each
string value is shown as it is when short and printable, else escaped on one
line and cut with its length noted (:mod:`rtagents.protocol.client_text`), so
no peer can forge a line, move a terminal's cursor, break the UTF-8 stream or
make one record megabytes long. A traceback keeps its lines, each indented
and escaped, so none can pass for a record of its own.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from ..protocol.client_text import loggable, one_line, quoted

# Attributes every LogRecord has; anything else on a record is a structured field.
RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "taskName"}
# Fields the console line already shows in its fixed columns.
_CONSOLE_SHOWN = frozenset({"session_id", "side", "direction", "event_type", "outcome"})
# Fields holding sentences the code wrote (which may quote a peer's text):
# cut at the message bound, not at the bound of a single value.
MESSAGE_FIELDS = frozenset({"error_message", "cause", "reason"})
# Characters of one value a peer sent (a type, an id, a name).
QUOTED_CHARS = 200
# Characters of a message, of a sentence field and of one traceback line.
MESSAGE_CHARS = 2000
_SCALARS = (bool, int, float)


def structured_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller attached with ``extra=``, in insertion order."""
    return {k: v for k, v in record.__dict__.items() if k not in RECORD_ATTRIBUTES}


class _DefusingFormatter(logging.Formatter):
    """What both formats share: the bounds, and how a text value is made safe."""

    def __init__(self, *, quoted_chars: int = QUOTED_CHARS, message_chars: int = MESSAGE_CHARS):
        super().__init__()
        self.quoted_chars = quoted_chars
        self.message_chars = message_chars

    def _text(self, key: str, text: str) -> str:
        if key in MESSAGE_FIELDS:
            return one_line(text, self.message_chars)
        return loggable(text, self.quoted_chars)

    def _message(self, record: logging.LogRecord) -> str:
        return one_line(record.getMessage(), self.message_chars)

    def _traceback(self, record: logging.LogRecord) -> str:
        """The exception's lines, each escaped and cut (an exception may quote a peer)."""
        text = self.formatException(record.exc_info) if record.exc_info else ""
        return "\n".join(one_line(line, self.message_chars) for line in text.splitlines())


class JsonFormatter(_DefusingFormatter):
    """One JSON object per line: timestamp, level, logger, message, then every field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": self._message(record),
        }
        for key, value in structured_fields(record).items():
            entry.setdefault(key, self._json_value(key, value))
        if record.exc_info:
            entry["exception"] = self._traceback(record)
        return json.dumps(entry, default=str, ensure_ascii=False)

    def _json_value(self, key: str, value: object) -> object:
        if isinstance(value, str):
            return self._text(key, value)
        if value is None or isinstance(value, _SCALARS):
            return value
        # A list or mapping (or any object) may hold a peer's text too: kept as
        # JSON when short and printable, else written as its defused text.
        text = json.dumps(value, default=str, ensure_ascii=False)
        if len(text) <= self.quoted_chars and text.isprintable():
            return value
        return loggable(text, self.quoted_chars)


class ConsoleFormatter(_DefusingFormatter):
    """``12:00:01.123 INFO  sess_ab12 in  session.update ok event_id=evt_1``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = structured_fields(record)
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        head = f"{clock}.{int(record.msecs):03d} {record.levelname:<5}"
        if "session_id" in fields:
            head += f" {self._console_value('session_id', fields['session_id'])}"
        extras = " ".join(
            f"{k}={self._console_value(k, v)}"
            for k, v in fields.items()
            if k not in _CONSOLE_SHOWN and v is not None
        )
        line = f"{head} {self._console_message(record, fields)}" + (f" {extras}" if extras else "")
        if record.exc_info:
            # Indented, so no line of it starts like a record.
            line += "\n" + "\n".join(f"    {row}" for row in self._traceback(record).split("\n"))
        return line

    def _console_message(self, record: logging.LogRecord, fields: Mapping[str, Any]) -> str:
        """Events read as aligned columns (``in  session.update ok``); other records as logged."""
        direction = fields.get("direction")
        if direction in ("in", "out"):
            event_type = self._column(fields.get("event_type") or "?")
            return f"{direction:<3} {event_type} {self._column(fields.get('outcome'))}"
        return self._message(record)

    def _column(self, value: object) -> str:
        """A value of the fixed columns: one word, quoted when it is not one."""
        text = value if isinstance(value, str) else str(value)
        return quoted(text, self.quoted_chars) if " " in text else loggable(text, self.quoted_chars)

    def _console_value(self, key: str, value: object) -> str:
        shown = self._text(key, value if isinstance(value, str) else str(value))
        # Defused text has no whitespace but the plain space; quote to keep k=v readable.
        return json.dumps(shown, ensure_ascii=False) if not shown or " " in shown else shown


def _iso_utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created * 1000) % 1000:03d}Z"
