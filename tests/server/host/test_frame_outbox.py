"""The session's send queue: bounded by bytes, a stalled client closed, a slow one served.

The outbox alone runs against a memory transport whose peer never reads; the
server cases use real loopback sockets: a raw client that stops reading (its
receive buffer small, so the server's sends back up as they would for a
stalled peer) and a stock ``websockets`` client that reads slowly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
import weakref
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import pytest
from server_harness import wait_following_progress
from websockets.asyncio.client import connect

from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.host.frame_outbox import FrameOutbox
from rtagents.server.host.limits import Limits
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.raw_websocket import TEXT, RawWebSocket, open_raw_websocket
from rtagents.transports.memory import memory_pair

BACKLOG = 128 * 2**10
INSTRUCTIONS = "x" * 30_000  # each session.updated echo is ~30 KB
LONG = " ".join(f"Go {i}." for i in range(30))  # short sentences: short bursts of audio
TIMEOUT_S = 10.0
SERVER_SEND_BUFFER = 16 * 2**10


# --- the outbox alone ------------------------------------------------------------------


async def test_a_pile_up_past_the_limit_is_reported_once_and_stops_growing() -> None:
    near, _far = memory_pair(max_queue=1)  # the far end never reads
    overflows: list[int] = []
    outbox = FrameOutbox("test", backlog_bytes=1000, on_overflow=overflows.append)
    outbox.start(near)
    for _ in range(20):
        outbox.put("f" * 300)
        await asyncio.sleep(0)  # let the writer take what it can before it blocks
    assert len(overflows) == 1 and overflows[0] > 1000
    assert outbox.frames_emitted == 20  # numbered all the same (resume replays them)
    assert outbox.queued_bytes <= 1000 + 300
    await outbox.stop()
    near.abort()


async def test_one_frame_bigger_than_the_limit_is_not_a_pile_up() -> None:
    near, far = memory_pair()
    overflows: list[int] = []
    outbox = FrameOutbox("test", backlog_bytes=1000, on_overflow=overflows.append)
    outbox.put("f" * 5000)  # e.g. a conversation.item.retrieve reply with audio
    assert not overflows
    outbox.start(near)
    await outbox.flush()
    assert await far.recv() == "f" * 5000
    assert outbox.queued_bytes == 0
    await outbox.stop()


async def test_a_new_writer_after_an_overflow_queues_again() -> None:
    near, _far = memory_pair(max_queue=1)
    overflows: list[int] = []
    outbox = FrameOutbox("test", backlog_bytes=100, on_overflow=overflows.append)
    for _ in range(2):
        outbox.put("f" * 60)
    assert overflows == [120]
    outbox.put("after")  # not queued: that connection is being closed
    assert outbox.queued_bytes == 120
    assert outbox.frames_emitted == 3
    await outbox.stop()
    again, far_again = memory_pair()
    outbox.skip_sent()  # as a resume does after replaying
    outbox.start(again)
    outbox.put("live")
    await outbox.flush()
    assert await far_again.recv() == "live"
    assert outbox.queued_bytes == 0
    near.abort()


# --- over real sockets -------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, limits=Limits(outbox_backlog_bytes=BACKLOG))
    engines = scripted_engines([Rule(when="long", then=Say(LONG, token_delay_s=0.01))])
    async with running_server(config, engines) as running:
        yield running


def shrink_server_send_buffers(server: RunningServer) -> None:
    """Fix the server ends' kernel send buffers small (loopback autotunes them to MiBs).

    So a client that stops reading backs up into the server's queue after
    tens of KiB rather than megabytes, as over a real network it soon would.
    """
    port = urlsplit(server.http_url).port
    for obj in gc.get_objects():
        if type(obj) in weakref.ProxyTypes:
            continue  # a dead proxy raises ReferenceError on any isinstance() check
        if isinstance(obj, asyncio.Transport) and not obj.is_closing():
            sock = obj.get_extra_info("socket")
            if sock is not None and sock.getsockname()[1] == port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SERVER_SEND_BUFFER)


async def stalled_client(server: RunningServer, **headers: str) -> RawWebSocket:
    url = urlsplit(server.http_url)
    assert url.hostname is not None and url.port is not None
    ws = await open_raw_websocket(
        url.hostname,
        url.port,
        "/v1/realtime?model=gpt-realtime",
        {"Authorization": f"Bearer {server.api_key}", **headers},
        receive_buffer=4096,
        read_limit=4096,
    )
    assert ws.status == 101
    return ws


def session_update(n: int) -> str:
    session = {"type": "realtime", "instructions": f"{INSTRUCTIONS} {n}"}
    return json.dumps({"type": "session.update", "event_id": f"evt_{n}", "session": session})


async def until_true(condition: str, check: Callable[[], object]) -> None:
    async def poll() -> None:
        while not check():  # noqa: ASYNC110 (server state that has no event to wait on)
            await asyncio.sleep(0.01)

    try:
        await wait_following_progress(poll())
    except TimeoutError as exc:
        raise AssertionError(f"never: {condition}") from exc


async def flood_until(ws: RawWebSocket, stop: Callable[[], object], most: int = 2000) -> int:
    """Send session.updates (never reading their echoes) until ``stop()``; how many were sent."""
    for n in range(most):
        if stop():
            return n
        ws.send_text(session_update(n))
        await asyncio.wait_for(ws.drain(), TIMEOUT_S)  # a server that stopped reading: fail
        await asyncio.sleep(0)
    raise AssertionError(f"the server still took frames after {most} unread echoes")


async def test_a_client_that_never_reads_is_closed_saying_why(server: RunningServer) -> None:
    state = server_state(server.app)
    ws = await stalled_client(server)
    await until_true("the session started", lambda: state.sessions)
    await flood_until(ws, lambda: not state.sessions)
    assert state.admission.open == 0  # its place under the connection cap is free again
    # The client reads at last: what was in flight, then the close behind it.
    texts, code, reason = await asyncio.wait_for(ws.read_until_close(), TIMEOUT_S)
    ws.abort()
    assert code == 1008
    assert reason.startswith("client is not reading: ")
    assert reason.endswith(" bytes queued (limit outbox_backlog_bytes)")
    queued = int(reason.split()[4])
    assert queued > BACKLOG
    assert json.loads(texts[0])["type"] == "session.created"


async def test_a_session_closed_for_not_reading_resumes(server: RunningServer) -> None:
    state = server_state(server.app)
    ws = await stalled_client(server, **{"X-Rtagents-Resume": "1"})
    token = ws.headers["x-rtagents-resume-token"]
    await until_true("the session started", lambda: state.sessions)
    (host,) = state.sessions
    await flood_until(ws, lambda: host.transport.closed)
    seen, code, _ = await asyncio.wait_for(ws.read_until_close(), TIMEOUT_S)
    ws.abort()
    assert code == 1008
    assert host in state.sessions  # detached, waiting for the client to come back
    assert host.resume is not None
    greeting = sum('"session.updated"' not in frame for frame in seen)  # sent before any echo
    answered = lambda: host.frames_emitted == greeting + host.received_frames  # noqa: E731
    await until_true("every update it read was answered", answered)
    log = host.resume.log.after(0)
    headers = {
        "Authorization": f"Bearer {server.api_key}",
        "X-Rtagents-Resume-Token": token,
        "X-Rtagents-Last-Seq": str(len(seen)),
    }
    async with connect(server.ws_url, additional_headers=headers) as again:
        after = [await asyncio.wait_for(again.recv(), TIMEOUT_S) for _ in log[len(seen) :]]
    assert seen + after == log  # nothing lost, repeated or reordered


async def test_a_slow_reader_is_served_in_bounded_memory(server: RunningServer) -> None:
    """A client that keeps stalling, so a backlog builds up again and again, is still served.

    It stops reading until a quarter of the limit is queued on the server
    (or a tenth of a second passed), then reads a burst: every frame of a long response
    arrives, the connection stays open, and the server never holds more than
    the limit for it.
    """
    state = server_state(server.app)
    ws = await stalled_client(server)
    await until_true("the session started", lambda: state.sessions)
    shrink_server_send_buffers(server)
    (host,) = state.sessions
    content = [{"type": "input_text", "text": "a long one please"}]
    item = {"type": "message", "role": "user", "content": content}
    ws.send_text(json.dumps({"type": "conversation.item.create", "item": item}))
    ws.send_text(json.dumps({"type": "response.create"}))
    await ws.drain()
    peak, received, stalls = 0, 0, 0
    done = False
    while not done:
        with contextlib.suppress(TimeoutError):
            backlog = lambda: host._outbox.queued_bytes > BACKLOG // 4  # noqa: E731
            await asyncio.wait_for(until_true("a backlog", backlog), 0.1)
            stalls += 1
        peak = max(peak, host._outbox.queued_bytes)
        while not done:  # a burst: until the server holds nothing for it
            opcode, payload = await asyncio.wait_for(ws.read_frame(), TIMEOUT_S)
            assert opcode == TEXT, payload  # never a close
            received += len(payload)
            done = b'"response.done"' in payload
            if host._outbox.queued_bytes == 0:
                break
    ws.abort()
    assert stalls > 0  # the server did queue for it, more than once in a long response
    assert received > 4 * BACKLOG  # far more went through than the queue may hold
    assert 0 < peak <= BACKLOG
