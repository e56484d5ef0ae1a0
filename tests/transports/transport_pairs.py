"""Pair factories for the conformance suite: each rtagents transport, connected on loopback.

``memory`` is the in-memory pair; ``websocket`` is the client transport and
``server_ws`` the server's Starlette one, the two ends of one real WebSocket
through uvicorn on 127.0.0.1; ``webrtc`` is the data channel between two
aiortc peers on loopback. The limits are small so the size and backpressure
checks stay quick; the rules are the same at the default sizes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator

import uvicorn
from aiortc import RTCPeerConnection
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from rtagents.server.ws import StarletteTransport
from rtagents.testing.conformance import Backpressure, Guarantees, TransportPair
from rtagents.transports.memory import memory_pair
from rtagents.transports.webrtc import (
    EVENTS_CHANNEL,
    DataChannelTransport,
    loopback_candidates,
    rtc_configuration,
    wait_open,
)
from rtagents.transports.websocket import WebSocketTransport, connect_websocket

WS_MAX_SIZE = 128 * 2**10  # both WebSocket ends refuse larger incoming messages (1009)
FLOOD = 64 * 2**20  # no sender may pour this much into a peer that reads nothing
SCTP_MAX_MESSAGE = 262_144  # what aiortc announces as its a=max-message-size
RTC_MAX_UNREAD = 2 * 2**20
# The kernel buffers a TCP connection too (here up to 32 MiB received and 4 MiB sent):
# the server's socket buffers are kept small so a sender hits backpressure within FLOOD.
SOCKET_BUFFER = 256 * 2**10


@contextlib.asynccontextmanager
async def memory() -> AsyncIterator[TransportPair]:
    near, far = memory_pair(max_queue=4)
    try:
        yield TransportPair(
            near,
            far,
            Guarantees(backpressure=Backpressure.SENDER_WAITS, flood_bytes=FLOOD),
            abort=near.abort,
            far_send_binary=far.send,
        )
    finally:
        near.abort()


class _QuietServer(uvicorn.Server):
    """uvicorn in the test's loop, leaving the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def _websocket_ends() -> AsyncIterator[tuple[WebSocketTransport, StarletteTransport]]:
    """Both ends of one WebSocket: rtagents' client transport and the server's Starlette one."""
    accepted: asyncio.Queue[StarletteTransport] = asyncio.Queue()
    finished = asyncio.Event()

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await accepted.put(StarletteTransport(websocket))
        await finished.wait()  # the test owns the connection until the pair closes

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):  # accepted sockets inherit these
        sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        ws="websockets-sansio",
        ws_max_size=WS_MAX_SIZE,
        ws_ping_interval=None,
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
            await asyncio.sleep(0.005)
        port = sock.getsockname()[1]
        client = await connect_websocket(
            f"ws://127.0.0.1:{port}/ws", max_size=WS_MAX_SIZE, ping_interval=None
        )
        server_end = await asyncio.wait_for(accepted.get(), 10)
        try:
            yield client, server_end
        finally:
            client.abort()
            finished.set()
    finally:
        finished.set()
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


def _websocket_guarantees() -> Guarantees:
    return Guarantees(
        max_recv_size=WS_MAX_SIZE, backpressure=Backpressure.SENDER_WAITS, flood_bytes=FLOOD
    )


@contextlib.asynccontextmanager
async def websocket() -> AsyncIterator[TransportPair]:
    async with _websocket_ends() as (client, server_end):
        yield TransportPair(
            client,
            server_end,
            _websocket_guarantees(),
            abort=client.abort,
            far_send_binary=server_end._ws.send_bytes,
        )


@contextlib.asynccontextmanager
async def server_ws() -> AsyncIterator[TransportPair]:
    async with _websocket_ends() as (client, server_end):
        yield TransportPair(
            server_end, client, _websocket_guarantees(), far_send_binary=client._ws.send
        )


@contextlib.asynccontextmanager
async def webrtc() -> AsyncIterator[TransportPair]:
    a, b = RTCPeerConnection(rtc_configuration()), RTCPeerConnection(rtc_configuration())
    remote: asyncio.Future[DataChannelTransport] = asyncio.get_running_loop().create_future()
    b.on(
        "datachannel",
        lambda channel: remote.set_result(DataChannelTransport(channel, max_unread=RTC_MAX_UNREAD)),
    )
    channel = a.createDataChannel(EVENTS_CHANNEL)
    try:
        with loopback_candidates():
            await a.setLocalDescription(await a.createOffer())
            await b.setRemoteDescription(a.localDescription)
            await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        await asyncio.wait_for(wait_open(channel), 10)
        far = await asyncio.wait_for(remote, 10)

        async def far_send_binary(data: bytes) -> None:
            far.channel.send(data)

        yield TransportPair(
            DataChannelTransport(channel),
            far,
            Guarantees(
                carries_close_codes=False,
                max_send_size=SCTP_MAX_MESSAGE,
                backpressure=Backpressure.RECEIVER_CLOSES,
                flood_bytes=FLOOD,
            ),
            far_send_binary=far_send_binary,
        )
    finally:
        await a.close()
        await b.close()


PAIRS = {"memory": memory, "websocket": websocket, "server_ws": server_ws, "webrtc": webrtc}
