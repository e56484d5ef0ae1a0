"""Structured event logs: the same fields every time, in JSON or one console line."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from rtagents.observability import EventLog, configure_logging
from rtagents.protocol.errors import RemoteProtocolError


@pytest.fixture(autouse=True)
def restore_rtagents_logger() -> Iterator[None]:
    logger = logging.getLogger("rtagents")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def _configured(fmt: str = "json", level: str = "DEBUG") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(fmt, level=level, stream=stream)  # type: ignore[arg-type]
    return stream


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_every_field() -> None:
    stream = _configured()
    EventLog("sess_ab12", side="server").inbound("session.update", "evt_1", item_count=2)
    (record,) = _records(stream)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record.pop("timestamp"))
    assert record == {
        "level": "DEBUG",
        "logger": "rtagents.events",
        "message": "in session.update ok",
        "session_id": "sess_ab12",
        "side": "server",
        "direction": "in",
        "event_type": "session.update",
        "event_id": "evt_1",
        "outcome": "ok",
        "item_count": 2,
    }


def test_an_error_is_logged_at_warning_with_its_classification() -> None:
    stream = _configured()
    error = RemoteProtocolError("bad type", code="invalid_value", param="session.type")
    EventLog("sess_1", side="server").inbound("session.update", "e", outcome="invalid", error=error)
    (record,) = _records(stream)
    assert record["level"] == "WARNING"
    assert {k: record[k] for k in ("category", "origin", "code", "param", "error_message")} == {
        "category": "protocol",
        "origin": "remote",
        "code": "invalid_value",
        "param": "session.type",
        "error_message": "bad type",
    }


@pytest.mark.parametrize(
    ("event_type", "outcome", "level"),
    [
        ("response.output_audio.delta", "ok", "DEBUG"),
        ("input_audio_buffer.append", "ok", "DEBUG"),
        ("response.done", "ok", "DEBUG"),
        ("session.update", "ok", "DEBUG"),
        ("foo.bar", "unknown", "INFO"),
        ("error", "ok", "WARNING"),
        ("response.create", "error", "WARNING"),
    ],
)
def test_levels_follow_the_event_rate_and_outcome(
    event_type: str, outcome: str, level: str
) -> None:
    stream = _configured()
    EventLog("s", side="client").outbound(event_type, outcome=outcome)
    assert _records(stream)[0]["level"] == level


def test_protocol_events_are_skipped_at_info_but_failures_are_not() -> None:
    stream = _configured(level="INFO")
    log = EventLog("s", side="client")
    log.inbound("response.output_audio.delta", "e1")
    log.inbound("response.done", "e2")
    log.inbound("error", "e3")
    assert [r["event_id"] for r in _records(stream)] == ["e3"]


def test_console_line_is_compact() -> None:
    stream = _configured("console", level="DEBUG")
    log = EventLog("sess_ab12", side="server")
    log.inbound("session.update")
    log.outbound("error", "evt_9", outcome="error", reason="two words")
    first, second = stream.getvalue().splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} DEBUG sess_ab12 in  session.update ok", first)
    assert second.endswith('WARNING sess_ab12 out error error event_id=evt_9 reason="two words"')


def test_lifecycle_transitions_are_logged() -> None:
    stream = _configured()
    log = EventLog("s", side="client")
    log.lifecycle("CONNECTING", "CONFIGURING", "TRANSPORT_OPENED")
    log.lifecycle("ACTIVE", "FAILED", "FATAL", cause="auth refused")
    first, second = _records(stream)
    assert first["direction"] == "lifecycle" and first["target"] == "CONFIGURING"
    assert first["message"] == "lifecycle CONNECTING -> CONFIGURING on TRANSPORT_OPENED"
    assert second["level"] == "WARNING" and second["cause"] == "auth refused"


def test_lifecycle_below_the_level_is_skipped_but_failure_still_logged() -> None:
    stream = _configured(level="WARNING")
    log = EventLog("s", side="client")
    log.lifecycle("CONNECTING", "CONFIGURING", "TRANSPORT_OPENED")
    log.lifecycle("ACTIVE", "FAILED", "FATAL")
    assert [r["target"] for r in _records(stream)] == ["FAILED"]


def test_fields_that_clash_with_record_attributes_are_renamed() -> None:
    stream = _configured()
    EventLog("s", side="client").inbound("x", name="tool", args=[1], outcome="ok")
    (record,) = _records(stream)
    assert record["name_"] == "tool" and record["args_"] == [1]


def test_configuring_twice_installs_one_handler_and_leaves_root_alone() -> None:
    root = logging.getLogger()
    root_handlers = list(root.handlers)
    first = _configured()
    second = _configured()
    logging.getLogger("rtagents.server").info("hello")
    assert first.getvalue() == ""
    assert [r["message"] for r in _records(second)] == ["hello"]
    assert root.handlers == root_handlers
    assert logging.getLogger("rtagents").propagate is False


def test_exceptions_and_plain_extras_reach_json() -> None:
    stream = _configured()
    logger = logging.getLogger("rtagents.x")
    try:
        raise RuntimeError("kaput")
    except RuntimeError:
        logger.exception("it broke", extra={"attempt": 3})
    (record,) = _records(stream)
    assert record["attempt"] == 3 and "RuntimeError: kaput" in record["exception"]


def test_bad_configuration_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        configure_logging(level="LOUD")
    with pytest.raises(ValueError, match="'json' or 'console'"):
        configure_logging("xml")  # type: ignore[arg-type]
