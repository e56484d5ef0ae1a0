"""Both log formats write every value defused: one line per record, each value bounded."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from rtagents.observability import EventLog, configure_logging
from rtagents.protocol.errors import RemoteProtocolError

FORGED = "x\n05:00:00.000 CRITICAL sess_FAKE forged log line"
HOSTILE = "a\r\x1b[2J\x00\x85\u2028\u2029\ud800z"


@pytest.fixture(autouse=True)
def restore_rtagents_logger() -> Iterator[None]:
    logger = logging.getLogger("rtagents")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def _configured(fmt: str, **options: Any) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(fmt, "DEBUG", stream, **options)  # type: ignore[arg-type]
    return stream


def _assert_safe(text: str) -> None:
    """Every line of ``text`` is a record (or an indented traceback line), all UTF-8."""
    text.encode("utf-8")
    for char in "\r\x1b\x00\x85\u2028\u2029":
        assert char not in text


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_forged_type_and_id_stay_on_one_line(fmt: str) -> None:
    stream = _configured(fmt)
    error = RemoteProtocolError(f"Unknown {FORGED}", code="invalid_value", param=HOSTILE)
    EventLog("sess_1", side="server").inbound(FORGED, HOSTILE, outcome="unknown", error=error)
    (line,) = stream.getvalue().splitlines()
    _assert_safe(line)
    assert "\\n05:00:00.000 CRITICAL" in line


def test_json_values_show_escaped_and_quoted_when_altered() -> None:
    stream = _configured("json")
    EventLog("sess_1", side="server").inbound(FORGED, "evt_1", outcome="unknown", model=HOSTILE)
    record = json.loads(stream.getvalue())
    assert record["event_type"] == repr(FORGED)
    assert record["event_id"] == "evt_1"  # nothing to defuse: as it is
    assert record["model"] == "'a\\r\\x1b[2J\\x00\\x85\\u2028\\u2029\\ud800z'"
    assert record["message"] == f"in {FORGED!r} unknown"


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_long_values_are_cut_with_their_length(fmt: str) -> None:
    stream = _configured(fmt, quoted_chars=10)
    huge = "y" * 1_000_000
    EventLog("s", side="server").inbound(huge, huge, outcome="invalid", item_id=huge)
    text = stream.getvalue()
    assert len(text) < 700
    assert text.count("(1000000 chars)") == 4 if fmt == "json" else 3


def test_sentence_fields_keep_their_spaces_and_a_longer_bound() -> None:
    stream = _configured("json", quoted_chars=10)
    error = RemoteProtocolError("a sentence longer than ten characters", code="c")
    EventLog("s", side="server").inbound("t", outcome="invalid", error=error)
    assert json.loads(stream.getvalue())["error_message"] == "a sentence longer than ten characters"


def test_lists_and_mappings_are_kept_when_short_and_defused_when_not() -> None:
    stream = _configured("json", quoted_chars=40)
    log = logging.getLogger("rtagents.test")
    log.info("short", extra={"tags": ["a", "b"]})
    log.info("long", extra={"tags": ["z" * 100]})
    log.info("hostile", extra={"tags": {"k": "\u2028"}})
    short, long, hostile = (json.loads(line) for line in stream.getvalue().splitlines())
    assert short["tags"] == ["a", "b"]
    assert long["tags"].endswith("(104 chars)")
    assert hostile["tags"] == repr('{"k": "\u2028"}')


def test_a_console_column_with_spaces_is_quoted() -> None:
    stream = _configured("console")
    EventLog("sess 1", side="server").inbound("two words", outcome="unknown")
    line = stream.getvalue()
    assert " \"sess 1\" in  'two words' unknown" in line


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_messages_are_escaped_and_bounded(fmt: str) -> None:
    stream = _configured(fmt)
    logging.getLogger("rtagents.test").warning("label %s", FORGED + "m" * 5000)
    (line,) = stream.getvalue().splitlines()
    message = json.loads(line)["message"] if fmt == "json" else line
    assert "label x\\n05:00:00.000 CRITICAL" in message and message.endswith("… (5055 chars)")
    assert len(line) < 2500


def test_a_console_traceback_is_indented_and_escaped() -> None:
    stream = _configured("console")
    try:
        raise ValueError(f"bad {FORGED}\x1b[2J")
    except ValueError:
        logging.getLogger("rtagents.test").exception("it broke")
    head, *trace = stream.getvalue().splitlines()
    _assert_safe(stream.getvalue())
    assert head.endswith("ERROR it broke")
    assert trace and all(line.startswith("    ") for line in trace)
    # The exception's own newline ends a line of the traceback, which is indented.
    assert trace[-2:] == [
        "    ValueError: bad x",
        "    05:00:00.000 CRITICAL sess_FAKE forged log line\\x1b[2J",
    ]


def test_a_json_traceback_keeps_its_lines_and_escapes_the_rest() -> None:
    stream = _configured("json")
    try:
        raise ValueError(f"bad\u2028{FORGED}")
    except ValueError:
        logging.getLogger("rtagents.test").exception("it broke")
    (line,) = stream.getvalue().splitlines()
    exception = json.loads(line)["exception"]
    assert exception.startswith("Traceback (most recent call last):\n")
    # Each line of the traceback is escaped on its own: the separators the
    # exception's text held end its lines, and none is left in them.
    assert exception.splitlines()[-3:] == ["ValueError: bad", *FORGED.split("\n")]
    _assert_safe(line)
