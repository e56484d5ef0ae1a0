"""The WebSocket transport against real ``websockets`` servers on loopback.

The peers here are tiny scripted servers the tests start: the transport is
about frames and close codes, so no Realtime server is needed. The closing,
size and backpressure rules every transport shares are checked by
tests/transports/test_transport_conformance.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from rtagents.protocol.errors import ConnectionFailure, Origin
from rtagents.transports.base import Transport, TransportClosed
from rtagents.transports.websocket import WebSocketTransport, connect_websocket

PeerHandler = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def peer(handler: PeerHandler, **options: object) -> AsyncIterator[str]:
    """A websockets server on a free loopback port; yields its ws:// URL."""
    async with serve(handler, "127.0.0.1", 0, **options) as server:  # type: ignore[arg-type]
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime"


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def test_sends_and_receives_text_and_binary_frames() -> None:
    async with peer(echo) as url:
        transport = await connect_websocket(url)
        assert isinstance(transport, Transport)
        await transport.send('{"type":"ping"}')
        assert await transport.recv() == '{"type":"ping"}'
        await transport._ws.send(b"\x00\x01")  # binary: forbidden by the protocol, still delivered
        assert await transport.recv() == b"\x00\x01"
        await transport.close()


async def test_headers_and_subprotocols_reach_the_server() -> None:
    seen: dict[str, str | None] = {}

    async def handler(ws: ServerConnection) -> None:
        seen["auth"] = ws.request.headers.get("Authorization") if ws.request else None
        seen["subprotocol"] = ws.subprotocol
        await ws.wait_closed()

    async with peer(handler, subprotocols=["realtime"]) as url:
        transport = await connect_websocket(
            url, headers={"Authorization": "Bearer sk-test"}, subprotocols=["realtime"]
        )
        assert transport.subprotocol == "realtime"
        await transport.close()
    assert seen == {"auth": "Bearer sk-test", "subprotocol": "realtime"}


async def test_server_close_code_and_reason_are_reported_on_every_call() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close(1001, "session cap reached")

    async with peer(handler) as url:
        transport = await connect_websocket(url)
        for _ in range(2):
            with pytest.raises(TransportClosed) as caught:
                await transport.recv()
            assert (caught.value.close_code, caught.value.reason) == (1001, "session cap reached")
            assert caught.value.origin is Origin.REMOTE
        with pytest.raises(TransportClosed):
            await transport.send("{}")
        assert transport.closed
        await transport.close()  # after the peer closed: still fine


async def test_a_dropped_connection_reads_as_1006() -> None:
    async def handler(ws: ServerConnection) -> None:
        ws.transport.abort()  # no close frame
        await ws.wait_closed()

    async with peer(handler) as url:
        transport = await connect_websocket(url)
        with pytest.raises(TransportClosed) as caught:
            await transport.recv()
        assert caught.value.close_code == 1006
        assert isinstance(caught.value, ConnectionFailure)
        await transport.close()


def _reject_with(
    status: HTTPStatus, body: bytes
) -> Callable[[ServerConnection, Request], Response]:
    def process_request(ws: ServerConnection, request: Request) -> Response:
        headers = Headers([("Content-Type", "application/json")])
        return Response(status.value, status.phrase, headers, body)

    return process_request


async def test_handshake_401_carries_the_servers_message() -> None:
    body = json.dumps(
        {
            "error": {
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "message": "Incorrect API key provided: sk-bad.",
            }
        }
    ).encode()
    async with peer(echo, process_request=_reject_with(HTTPStatus.UNAUTHORIZED, body)) as url:
        with pytest.raises(ConnectionFailure) as caught:
            await connect_websocket(url)
    err = caught.value
    assert err.code == "invalid_api_key"
    assert "HTTP 401" in err.message and "Incorrect API key provided" in err.message
    assert err.origin is Origin.LOCAL


async def test_handshake_error_without_json_body_uses_the_text() -> None:
    reject = _reject_with(HTTPStatus.SERVICE_UNAVAILABLE, b"overloaded, retry later")
    async with peer(echo, process_request=reject) as url:
        with pytest.raises(ConnectionFailure) as caught:
            await connect_websocket(url)
    assert caught.value.code == "http_503"
    assert "overloaded, retry later" in caught.value.message
    assert caught.value.origin is Origin.REMOTE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_refused_connection_says_so() -> None:
    with pytest.raises(ConnectionFailure) as caught:
        await connect_websocket(f"ws://127.0.0.1:{_free_port()}/v1/realtime")
    assert caught.value.code == "connection_refused"
    assert "refused" in caught.value.message


async def test_unknown_host_is_a_dns_failure() -> None:
    with pytest.raises(ConnectionFailure) as caught:
        await connect_websocket("ws://no-such-host.invalid/v1/realtime", open_timeout=5)
    assert caught.value.code in ("dns_failed", "timeout")
    assert "no-such-host.invalid" in caught.value.message


async def test_silent_server_times_out() -> None:
    finished = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()
        await writer.wait_closed()
        finished.set()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ConnectionFailure) as caught:
            await connect_websocket(f"ws://127.0.0.1:{port}/", open_timeout=0.1)
        await finished.wait()
    finally:
        server.close()
        await server.wait_closed()
    assert caught.value.code == "timeout"
    assert "timed out after 0.1 s" in caught.value.message


@pytest.mark.parametrize("url", ["http://example.com/v1/realtime", "ws://[::1"])
async def test_invalid_urls_are_local_errors(url: str) -> None:
    with pytest.raises(ConnectionFailure) as caught:
        await connect_websocket(url)
    assert caught.value.code == "invalid_url"
    assert caught.value.origin is Origin.LOCAL


async def test_transport_type() -> None:
    async with peer(echo) as url:
        transport = await connect_websocket(url)
        assert isinstance(transport, WebSocketTransport)
        await transport.close()
