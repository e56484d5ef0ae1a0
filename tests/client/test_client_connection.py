"""The live connection: what a resume carries over, what a fresh server session resets."""

from __future__ import annotations

from typing import Any

from rtagents.client.connection import Connection
from rtagents.client.outbox import ResendRing, SendQueue
from rtagents.client.resume_ticket import GRACE, LAST_SEQ, SESSION_ID, TOKEN
from rtagents.observability.event_log import EventLog
from rtagents.transports.memory import MemoryTransport, memory_pair

TICKET = {TOKEN.lower(): "tok_1", SESSION_ID.lower(): "sess_1", GRACE.lower(): "30"}


class _Handshaken:
    """A memory transport end that answered its handshake with headers, as a WebSocket does."""

    def __init__(self, end: MemoryTransport, headers: dict[str, str]) -> None:
        self.end = end
        self.response_headers = headers

    async def send(self, message: str) -> None:
        await self.end.send(message)

    async def recv(self) -> str | bytes:
        return await self.end.recv()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.end.close(code, reason)


def _live(transport: Any, **kwargs: Any) -> Connection:
    connection = Connection.fresh(transport, **kwargs)
    connection.live = True
    return connection


async def _drain(end: MemoryTransport, count: int) -> list[str | bytes]:
    return [await end.recv() for _ in range(count)]


async def test_a_fresh_connection_reads_its_ticket_and_starts_from_zero() -> None:
    near, _ = memory_pair()
    connection = Connection.fresh(_Handshaken(near, TICKET), ring_bytes=1000)
    assert connection.ticket is not None and connection.ticket.token == "tok_1"
    assert (connection.sent, connection.received, connection.live) == (0, 0, False)
    assert connection.resume_headers() == {TOKEN: "tok_1", LAST_SEQ: "0"}
    assert Connection.fresh(near, ring_bytes=0).resume_headers() is None  # no ticket offered


async def test_a_resume_goes_on_with_numbering_count_and_ticket() -> None:
    near, far = memory_pair()
    first = _live(_Handshaken(near, TICKET), ring_bytes=1000)
    assert await first.send("a") and await first.send("b")
    for raw in ("x", b"binary", "y"):
        first.count(raw)  # binary frames are not counted: the resume protocol counts text
    assert (first.sent, first.received) == (2, 2)
    assert await _drain(far, 2) == ["a", "b"]

    again, far_again = memory_pair()
    resumed = first.resumed_on(again)  # this server gave no new ticket: the old one holds
    assert resumed is not first and resumed.ticket == first.ticket
    assert (resumed.sent, resumed.received, resumed.live) == (2, 2, False)
    assert resumed.ring.unacknowledged(1) == ["b"]
    assert resumed.resume_headers() == {TOKEN: "tok_1", LAST_SEQ: "2"}
    await resumed.resend(["b"])
    resumed.live = True
    assert await resumed.send("c") and resumed.sent == 3
    assert await _drain(far_again, 2) == ["b", "c"]


async def test_a_connection_that_is_not_live_takes_no_frame() -> None:
    near, far = memory_pair()
    connection = Connection.fresh(near, ring_bytes=1000)
    assert not await connection.send("a")
    assert connection.sent == 0 and not far.closed
    await connection.send_before_live("replayed")  # a rebuild's replay goes out regardless
    assert connection.sent == 1 and await far.recv() == "replayed"


async def test_going_live_sends_the_queue_first_in_order_and_numbered() -> None:
    near, far = memory_pair()
    connection = Connection.fresh(near, ring_bytes=1000)
    queue = SendQueue(100)
    queue.enqueue("input_audio_buffer.append", "evt_1", "one")
    queue.enqueue("response.create", "evt_2", "two")
    await connection.go_live(queue, EventLog("cs_test", side="client"))
    assert connection.live and queue.queued == 0
    assert await connection.send("three")
    assert await _drain(far, 3) == ["one", "two", "three"]
    assert connection.ring.unacknowledged(0) == ["one", "two", "three"]


async def test_discarding_lets_go_of_the_transport_and_stops_sends() -> None:
    near, far = memory_pair()
    connection = _live(near, ring_bytes=0)
    await connection.discard()
    assert not connection.live and near.closed and far.closed
    assert not await connection.send("late")


def test_the_ring_a_connection_starts_with_is_its_own() -> None:
    near, _ = memory_pair()
    ring = ResendRing(10)
    assert Connection(near, ring=ring).ring is ring
    assert Connection.fresh(near, ring_bytes=10).ring is not ring
