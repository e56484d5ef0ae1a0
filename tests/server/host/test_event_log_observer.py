"""Client strings cannot forge or flood the server's log (a real server on loopback, real handler).

Each test configures the ``rtagents`` logger as ``rtagents serve`` does
(console or JSON lines on a stream), talks to a server over a WebSocket and
reads what was written.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from server_harness import RawClient, session

from rtagents.observability import configure_logging
from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.protocol.errors import RemoteProtocolError
from rtagents.protocol.server_facts import Facts
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.host.backend import HostPort
from rtagents.server.host.limits import Limits
from rtagents.server.host.session_host import SessionHost
from rtagents.server.host.wire_events import error_event
from rtagents.server.serving import RunningServer, running_server
from rtagents.transports.memory import memory_pair

FORGED = "05:00:00.000 CRITICAL sess_FAKE forged log line"
HUGE = 1_000_000


@pytest.fixture(autouse=True)
def restore_rtagents_logger() -> Iterator[None]:
    logger = logging.getLogger("rtagents")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def _logging(fmt: str) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(fmt, "INFO", stream)  # type: ignore[arg-type]
    return stream


async def _served_to_the_end(
    server: RunningServer, client_work: Callable[[RawClient], Awaitable[None]]
) -> None:
    """Run ``client_work(client)`` in one session and wait until the server ended it."""
    async with session(server) as client:
        (host,) = server_state(server.app).sessions
        await client_work(client)
    await asyncio.wait_for(host.wait_closed(), 60)


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


@pytest.mark.parametrize("fmt", ["console", "json"])
async def test_a_newline_in_a_type_forges_no_log_line(server: RunningServer, fmt: str) -> None:
    stream = _logging(fmt)

    async def send_forgery(client: RawClient) -> None:
        error = await client.error({"type": f"x\n{FORGED}", "event_id": "evt\r\x1b[2K1"})
        assert error.event_id == "evt\r\x1b[2K1"

    await _served_to_the_end(server, send_forgery)
    lines = _lines(stream)
    assert not any(line.startswith("05:00:00") for line in lines)
    assert not any(c in stream.getvalue() for c in "\r\x1b")
    refused = [line for line in lines if "sess_FAKE" in line]
    assert len(refused) == 1  # one record for the refused event, on one line
    assert "\\n05:00:00.000 CRITICAL sess_FAKE" in refused[0]
    if fmt == "json":
        record = json.loads(refused[0])
        assert record["event_type"] == repr(f"x\n{FORGED}")
        assert record["event_id"] == repr("evt\r\x1b[2K1")


@pytest.mark.parametrize("fmt", ["console", "json"])
async def test_a_megabyte_type_gets_a_short_reply_and_a_short_log_line(
    server: RunningServer, fmt: str
) -> None:
    stream = _logging(fmt)

    async def send_huge(client: RawClient) -> None:
        error = await client.error({"type": "t" * HUGE, "event_id": "evt_huge"})
        assert (error.code, error.param, error.event_id) == ("invalid_value", "type", "evt_huge")
        assert len(error.message) < 1000
        assert f"({HUGE} chars)" in error.message

    await _served_to_the_end(server, send_huge)
    assert max(len(line) for line in _lines(stream)) < 2000
    assert f"({HUGE} chars)" in stream.getvalue()
    assert len(stream.getvalue()) < 5000


async def test_ten_thousand_identical_bad_events_are_summarised(server: RunningServer) -> None:
    stream = _logging("json")
    bad = {"type": "input_audio_buffer.append", "audio": 5, "event_id": "evt_bad"}
    count = 10_000

    async def flood(client: RawClient) -> None:
        for _ in range(count):
            await client.send(bad)
        for _ in range(count):
            assert (await client.recv()).error.code == "invalid_type"

    await _served_to_the_end(server, flood)
    records = [json.loads(line) for line in _lines(stream)]
    assert len(records) < 20
    refused = [r for r in records if r.get("event_id") == "evt_bad"]
    assert len(refused) == 1 and refused[0]["param"] == "audio"
    summaries = [r for r in records if r.get("outcome") == "summarised"]
    assert [r["message"] for r in summaries] == [
        "100 more like this so far",
        "1000 more like this so far",
        f"{count - 1} more like this",
    ]
    for summary in summaries:
        assert (summary["code"], summary["param"]) == ("invalid_type", "audio")
        assert summary["kind"] == "in input_audio_buffer.append invalid"
        assert summary["level"] == "WARNING"


@pytest.fixture
async def small_budget_server() -> AsyncIterator[RunningServer]:
    async with running_server(
        ServerConfig(port=0, limits=Limits(session_log_records=3))
    ) as running:
        yield running


async def test_past_the_budget_new_kinds_are_counted_not_written(
    small_budget_server: RunningServer,
) -> None:
    stream = _logging("console")
    six_kinds = [
        {"type": "input_audio_buffer.append", "audio": 5},
        {"type": "session.update", "session": {"type": "realtime", "voice": 5}},
        {"type": "session.update", "session": {"type": "realtime", "instructions": 5}},
        {"type": "conversation.item.delete"},
        {"type": "response.cancel", "response_id": 5},
        {"type": "conversation.item.create", "item": 5},
    ]

    async def many_kinds(client: RawClient) -> None:
        for event in six_kinds:
            await client.error(event)

    await _served_to_the_end(small_budget_server, many_kinds)
    text = stream.getvalue()
    assert text.count("WARNING") == 4  # three kinds written, and the count of the rest
    assert "3 records not written: the session's log budget (session_log_records=3)" in text


async def test_unknown_fields_of_one_object_are_one_kind(server: RunningServer) -> None:
    stream = _logging("json")

    async def unknown_fields(client: RawClient) -> None:
        for number in range(50):
            session = {"type": "realtime", f"field_{number}": 1}
            error = await client.error({"type": "session.update", "session": session})
            assert error.param == f"session.field_{number}"

    await _served_to_the_end(server, unknown_fields)
    records = [json.loads(line) for line in _lines(stream)]
    written = [r for r in records if r.get("code") == "unknown_parameter"]
    assert [r.get("param") for r in written] == ["session.field_0", "session.*"]
    assert written[1]["message"] == "49 more like this"


class FaultyBackend:
    """A model side that raises on every item (a server bug) and reports errors of its own."""

    def __init__(self, port: HostPort) -> None:
        self.port = port

    async def start(self) -> None:
        return None

    async def handle(self, event: Any) -> None:
        if event.type == "conversation.item.create":
            raise ValueError("a bug in the backend")
        failure = RemoteProtocolError("the engine failed", code="engine_failed")
        await self.port.emit(error_event(failure, error_type="server_error"), error=failure)
        await self.port.emit(error_event(failure, error_type="server_error"))

    def facts(self) -> Facts:
        return Facts(items=self.port.conversation)

    async def close(self) -> None:
        return None


async def test_server_faults_are_logged_every_time_and_their_refusals_summarised() -> None:
    stream = _logging("json")
    ours, theirs = memory_pair()
    host = SessionHost(ours, ServerConfig(port=0), FaultyBackend)
    task = asyncio.create_task(host.run())
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    for _ in range(30):
        await theirs.send(encode_event({"type": "conversation.item.create", "item": item}))
    await theirs.send(encode_event({"type": "input_audio_buffer.clear"}))
    for _ in range(30 + 2):
        assert decode_server_event(await asyncio.wait_for(theirs.recv(), 60)).type == "error"
    await theirs.close()
    await asyncio.wait_for(task, 60)
    records = [json.loads(line) for line in _lines(stream)]
    faults = [r for r in records if r["level"] == "ERROR"]
    assert len(faults) == 30 and all("a bug in the backend" in r["exception"] for r in faults)
    refusals = [r for r in records if r.get("code") == "internal_error"]
    assert [r["message"] for r in refusals] == [
        "in conversation.item.create error",
        "29 more like this",
    ]
    # The backend's own errors (not refusals) are logged, with or without the error
    # object, as one kind.
    engine = [r for r in records if r.get("code") == "engine_failed"]
    assert [r["message"] for r in engine] == ["out error error", "1 more like this"]
    assert engine[0]["error_message"] == "the engine failed"
