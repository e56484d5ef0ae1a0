"""A bare RFC 6455 client on one socket that reads only when told to: a stalled or slow peer.

Stock clients read their socket all the time (into their own queues), so they
cannot play a client that stops reading. This one does the upgrade, sends
text frames, and reads frames only when :meth:`RawWebSocket.read_frame` is
called, with a receive buffer as small as the test asks, so the server's
sends back up exactly as they would for a peer that stalled.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

TEXT, CLOSE = 0x1, 0x8
# Client frames must be masked; a zero key leaves the payload as it is, which
# the server accepts and which spares the test a byte-by-byte XOR.
_ZERO_MASK = b"\x00\x00\x00\x00"


@dataclass
class RawWebSocket:
    """One connection: the handshake's answer, then frames on request."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""  # a refusal's body (no upgrade)

    def send_text(self, text: str) -> None:
        """Queue one text frame (``await drain()`` to wait until the socket took it)."""
        self.writer.write(_client_frame(TEXT, text.encode()))

    async def drain(self) -> None:
        await self.writer.drain()

    async def read_frame(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload (``IncompleteReadError`` at EOF)."""
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(length)

    async def read_until_close(self) -> tuple[list[str], int | None, str]:
        """Every text frame up to the close frame, and its code and reason (None: EOF)."""
        texts: list[str] = []
        while True:
            try:
                opcode, payload = await self.read_frame()
            except asyncio.IncompleteReadError:
                return texts, None, ""
            if opcode == TEXT:
                texts.append(payload.decode())
            elif opcode == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return texts, code, payload[2:].decode(errors="replace")

    def abort(self) -> None:
        transport = self.writer.transport
        transport.abort()


async def open_raw_websocket(
    host: str,
    port: int,
    path: str,
    headers: Mapping[str, str],
    *,
    receive_buffer: int | None = None,
    read_limit: int = 2**16,
) -> RawWebSocket:
    """Upgrade a fresh connection; ``status`` is 101 on success, else the refusal's."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # before connect, so the window starts small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except OSError:
        sock.close()
        raise
    reader, writer = await asyncio.open_connection(sock=sock, limit=read_limit)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *header_lines = head.split("\r\n")
    found = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            found[name.strip().lower()] = value.strip()
    raw = RawWebSocket(reader, writer, int(status_line.split()[1]), found)
    if raw.status != 101 and "content-length" in found:
        raw.body = await reader.readexactly(int(found["content-length"]))
    return raw


def _client_frame(opcode: int, payload: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 2**16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + _ZERO_MASK + payload
