"""``running_server``: what every connection it accepts gets (it also runs ``rtagents serve``)."""

from __future__ import annotations

import asyncio
import gc
import socket
from urllib.parse import urlsplit

from server_harness import session

from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.server_process import free_port


def _accepted_sockets(port: int) -> list[socket.socket]:
    """The server ends of the connections to ``port`` (asyncio keeps them in transports)."""
    found = []
    for obj in gc.get_objects():
        sock = getattr(obj, "_sock", None) if isinstance(obj, asyncio.Transport) else None
        if isinstance(sock, socket.socket) and sock.fileno() >= 0:
            local = sock.getsockname()
            if local[1] == port and sock.getpeername()[1] != port:
                found.append(sock)
    return found


async def test_accepted_connections_send_without_nagle_delay(server: RunningServer) -> None:
    """Regression: the listener was made with proto 0, so asyncio left Nagle on.

    Then the second of two events sent back to back (``conversation.item.added``
    and ``.done``) waited for the client's delayed ACK, about 40 ms every time.
    """
    port = urlsplit(server.http_url).port
    assert port is not None
    async with session(server):
        accepted = _accepted_sockets(port)
        assert accepted, "no server-side connection found"
        for sock in accepted:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


async def test_the_port_listens_only_once_redis_has_answered() -> None:
    """Regression: the port listened while --redis was still being checked, so a node
    whose Redis was down took connections (with --workers, the kernel's share) and
    then exited. A Redis that accepts but never answers holds the start here."""
    asked = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # never answered; closed when the test ends
        asked.set()

    redis = await asyncio.start_server(silent, "127.0.0.1", 0)
    redis_port = redis.sockets[0].getsockname()[1]
    port = free_port()
    config = ServerConfig(port=port, redis_url=f"redis://127.0.0.1:{redis_port}/0")

    async def serve() -> None:
        async with running_server(config):
            raise AssertionError("served without an answer from Redis")

    starting = asyncio.create_task(serve())
    try:
        await asyncio.wait_for(asked.wait(), 30)
        for _ in range(5):
            await asyncio.sleep(0.1)
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except ConnectionRefusedError:
                continue
            writer.close()
            raise AssertionError("the port took a connection before Redis answered")
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        for writer in held:
            writer.close()
        redis.close()
        await redis.wait_closed()
