"""``running_server``: what every connection it accepts gets (it also runs ``rtagents serve``)."""

from __future__ import annotations

import asyncio
import gc
import socket
from urllib.parse import urlsplit

from server_harness import session

from rtagents.server.serving import RunningServer


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
