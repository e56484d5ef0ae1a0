"""The serving layer's bounds: slowloris sockets get 408 and are closed, stalled peers aborted.

Real sockets on loopback against a real server with a short header timeout.
The tests wait for what the server does (sockets closing), with generous caps,
and assert no wall-clock bounds: a trickling socket would never finish on its
own, so "closed at all" is what shows the timeout works.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from server_harness import wait_following_progress
from websockets.asyncio.client import connect

from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import Limits
from rtagents.server.serving import RunningServer, running_server
from rtagents.server.uvicorn_protocols import (
    READ_AHEAD_BYTES,
    READ_AHEAD_MESSAGES,
    PromptCloseWebSocketProtocol,
)
from rtagents.testing.raw_websocket import open_raw_websocket

HEADER_TIMEOUT_S = 1.0
TRICKLE_S = 0.2  # one header byte this often: always active, never finished
SLOWLORIS = 20
CAP_S = 60.0  # generous: a loaded CI machine; the sockets would otherwise trickle forever


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    limits = Limits(header_read_timeout_s=HEADER_TIMEOUT_S, outbox_backlog_bytes=64 * 2**10)
    async with running_server(ServerConfig(port=0, limits=limits)) as running:
        yield running


def _address(server: RunningServer) -> tuple[str, int]:
    url = urlsplit(server.http_url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


async def _trickle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
) -> bytes:
    """Send ``head`` then one more header byte every TRICKLE_S until the server hangs up."""
    writer.write(head)
    answer = asyncio.ensure_future(reader.read())  # everything until EOF
    try:
        while not answer.done():
            with contextlib.suppress(ConnectionError):
                writer.write(b"a")
                await writer.drain()
            await asyncio.wait({answer}, timeout=TRICKLE_S)
        return answer.result()
    finally:
        writer.close()


async def _slowloris(server: RunningServer) -> bytes:
    reader, writer = await asyncio.open_connection(*_address(server))
    return await _trickle(reader, writer, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ")


def _timed_out(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout"
    assert "limits.header_read_timeout_s" in error["message"]


async def test_slowloris_sockets_are_closed_while_others_are_served(
    server: RunningServer,
) -> None:
    sockets = [asyncio.ensure_future(_slowloris(server)) for _ in range(SLOWLORIS)]
    # The cap only stops a hang; without the timeout the sockets would trickle forever.
    async with asyncio.timeout(CAP_S), httpx.AsyncClient() as http:
        while not all(task.done() for task in sockets):  # meanwhile an ordinary client is served
            assert (await http.get(f"{server.http_url}/healthz")).status_code == 200
            await asyncio.wait(sockets, timeout=TRICKLE_S)
    for answer in await asyncio.gather(*sockets):
        _timed_out(answer)


async def test_the_next_request_on_a_kept_alive_connection_has_the_same_time(
    server: RunningServer,
) -> None:
    reader, writer = await asyncio.open_connection(*_address(server))
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    await reader.readexactly(length)
    answer = await asyncio.wait_for(_trickle(reader, writer, b"GET /healthz HTTP/1.1\r\n"), CAP_S)
    _timed_out(answer)


async def test_a_websocket_outlives_the_header_timeout(server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with connect(server.ws_url, additional_headers=headers) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
        assert json.loads(await ws.recv())["type"] == "conversation.created"
        await asyncio.sleep(2 * HEADER_TIMEOUT_S)  # the head timer would have fired by now
        await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        assert json.loads(await ws.recv())["type"] == "input_audio_buffer.cleared"


def _server_end(port: int, client_port: int) -> asyncio.Transport:
    """The server's transport of the connection from ``client_port``."""
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Transport) and not obj.is_closing():
            sock = obj.get_extra_info("socket")
            if sock is not None and sock.getsockname()[1] == port:
                if sock.getpeername()[1] == client_port:
                    return obj
    raise AssertionError("no server end found")


async def _until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 (server state that has no event to wait on)
            await asyncio.sleep(0.02)

    await wait_following_progress(poll())


async def test_a_peer_that_never_reads_even_the_close_is_aborted(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing waits for the peer only ``close_grace_s``, then the socket is dropped."""
    monkeypatch.setattr(PromptCloseWebSocketProtocol, "close_grace_s", 0.2)
    host, port = _address(server)
    state = server_state(server.app)
    ws = await open_raw_websocket(
        host,
        port,
        "/v1/realtime",
        {"Authorization": f"Bearer {server.api_key}"},
        receive_buffer=4096,
        read_limit=4096,
    )
    client_port = ws.writer.get_extra_info("sockname")[1]
    await _until(lambda: bool(state.sessions))
    server_socket = _server_end(port, client_port).get_extra_info("socket")
    # Small and fixed (loopback autotunes it to MiBs), so the close frame stays queued.
    server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 2**10)
    update = {"type": "realtime", "instructions": "x" * 30_000}
    for n in range(2000):  # echoes it never reads, until the server closes it
        if not state.sessions:
            break
        ws.send_text(json.dumps({"type": "session.update", "event_id": f"e{n}", "session": update}))
        await asyncio.wait_for(ws.drain(), CAP_S)
    assert not state.sessions, "the server kept serving a client that never reads"
    await _until(lambda: server_socket.fileno() < 0)  # closed though never read
    ws.abort()


class _Watched(PromptCloseWebSocketProtocol):
    """The protocol under test, each connection's instance kept where the test can see it."""

    made: list[PromptCloseWebSocketProtocol] = []

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _Watched.made.append(self)


@contextlib.asynccontextmanager
async def _held_app_server(gate: asyncio.Event, got: list[str]) -> AsyncIterator[str]:
    """uvicorn with the protocol under test and an app that reads only once ``gate`` is set."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await gate.wait()
        while (message := await receive())["type"] == "websocket.receive":
            got.append(message["text"])

    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(app, ws=_Watched, lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        await _until(lambda: server.started)
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_reading_pauses_only_once_enough_messages_wait_for_the_app() -> None:
    """uvicorn paused the socket after every message (two epoll calls an append)."""
    gate, got = asyncio.Event(), []
    _Watched.made.clear()
    async with _held_app_server(gate, got) as url, connect(url) as ws:
        await _until(lambda: bool(_Watched.made))
        protocol = _Watched.made[0]
        texts = [f"m{n}" for n in range(10)]
        for n, text in enumerate(texts[:READ_AHEAD_MESSAGES], start=1):
            await ws.send(text)
            await _until(lambda n=n: protocol.queue.qsize() == n)  # type: ignore[misc]
            reading = protocol.transport.is_reading()
            assert reading == (n < READ_AHEAD_MESSAGES), f"after {n} messages"
        for text in texts[READ_AHEAD_MESSAGES:]:
            await ws.send(text)  # they wait in the socket, not in the server's memory
        assert protocol.queue.qsize() == READ_AHEAD_MESSAGES
        gate.set()
        await _until(lambda: len(got) == len(texts))
        assert got == texts, "every message, in order"
        assert protocol.transport.is_reading()


async def test_one_large_message_pauses_reading_at_once() -> None:
    gate, got = asyncio.Event(), []
    _Watched.made.clear()
    async with _held_app_server(gate, got) as url, connect(url, max_size=None) as ws:
        await _until(lambda: bool(_Watched.made))
        protocol = _Watched.made[0]
        await ws.send("x" * READ_AHEAD_BYTES)
        await _until(lambda: protocol.queue.qsize() == 1)
        assert not protocol.transport.is_reading()
        await ws.send("after")
        gate.set()
        await _until(lambda: len(got) == 2)
        assert got[1] == "after" and len(got[0]) == READ_AHEAD_BYTES
