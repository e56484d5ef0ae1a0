"""A lean WebSocket client (RFC 6455) for the load generator: little CPU per frame.

``bench/load.py`` drives hundreds of sessions from one process on the same
2-core machine as the servers it measures, so every cycle it spends is taken
from them. The ``websockets`` client parses and writes every frame in Python
through several layers; this one does only what the benchmark needs, on
asyncio's Protocol/Transport API:

- the HTTP/1.1 upgrade with ``Authorization: Bearer`` and a checked
  ``Sec-WebSocket-Accept``; no extension is offered (the server must not
  compress, as with ``websockets``' ``compression=None``);
- client frames are encoded and masked once (:func:`client_frames`) and the
  same bytes are written by every caller;
- server frames are parsed incrementally (:class:`FrameReader`): 7/16/64-bit
  lengths, fragmented messages, ping answered with pong, close with close.

Each text message is handed to ``on_text(now, text)`` with ``now`` read from
the monotonic clock as that message is parsed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
MAX_MESSAGE = 1 << 20  # as the websockets client's default max_size
MAX_RESPONSE_HEAD = 16 * 1024
OPEN_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 10.0
# RFC 6455 wants a fresh, unpredictable mask per frame so that a hostile page
# cannot steer the bytes an intermediary sees. A load generator talking to its
# own server on loopback has no such attacker; one random mask per process lets
# a turn's frames be masked once and shared by every caller.
MASK = os.urandom(4)


class WireError(Exception):
    """The server broke the protocol (or the handshake failed): the caller's error."""


def client_frame(opcode: int, payload: bytes, mask: bytes = MASK) -> bytes:
    """One final, masked client frame, ready to write."""
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, 0x80 | size])
    elif size < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
    return head + mask + apply_mask(payload, mask)


def apply_mask(payload: bytes, mask: bytes) -> bytes:
    """XOR with the repeated 4-byte mask, as one big-integer operation."""
    if not payload:
        return b""
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    mixed = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return mixed.to_bytes(len(payload), "big")


def client_frames(texts: Sequence[str]) -> list[bytes]:
    """Text messages as masked frames: encode once, write from every connection."""
    return [client_frame(TEXT, text.encode()) for text in texts]


class FrameReader:
    """Server frames from a byte stream, in pieces of any size: whole messages out.

    ``feed`` returns ``(opcode, payload)`` for each complete message (text or
    binary, continuations joined) and each control frame, in stream order.
    Bytes of an incomplete frame wait in a list until enough have come, so a
    large frame arriving in many reads is joined once, not once per read.
    """

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._max = max_message
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._need = 2  # bytes the next step of parsing waits for
        self._fragments: list[bytes] = []
        self._fragments_len = 0
        self._message_opcode = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self._pending_len + len(data) < self._need:
            self._pending.append(data)
            self._pending_len += len(data)
            return []
        if self._pending:
            self._pending.append(data)
            data = b"".join(self._pending)
            self._pending.clear()
        out: list[tuple[int, bytes]] = []
        pos, end = 0, len(data)
        while True:
            if end - pos < 2:
                need = 2
                break
            first, second = data[pos], data[pos + 1]
            size, head = second & 0x7F, 2
            if size == 126:
                if end - pos < 4:
                    need = 4
                    break
                size, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            elif size == 127:
                if end - pos < 10:
                    need = 10
                    break
                size, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            self._check_header(first, second, size)
            if end - pos < head + size:
                need = head + size
                break
            payload = data[pos + head : pos + head + size]
            pos += head + size
            message = self._frame(first, payload)
            if message is not None:
                out.append(message)
        self._need = need
        self._pending_len = end - pos
        if pos < end:
            self._pending.append(data[pos:])
        return out

    def _check_header(self, first: int, second: int, size: int) -> None:
        opcode = first & 0x0F
        if first & 0x70:
            raise WireError(f"reserved bits set in a frame (0x{first:02x}): no extension agreed")
        if second & 0x80:
            raise WireError("the server masked a frame: server frames must not be masked")
        if opcode >= CLOSE and (size > 125 or not first & 0x80):
            raise WireError(f"control frame 0x{opcode:x} fragmented or over 125 bytes ({size})")
        if opcode not in (CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG):
            raise WireError(f"unknown opcode 0x{opcode:x}")
        if self._fragments_len + size > self._max:
            raise WireError(f"a message over {self._max} bytes: raise max_message to read it")

    def _frame(self, first: int, payload: bytes) -> tuple[int, bytes] | None:
        opcode, final = first & 0x0F, bool(first & 0x80)
        if opcode >= CLOSE:
            return opcode, payload
        if opcode == CONTINUATION:
            if not self._message_opcode:
                raise WireError("a continuation frame without a message to continue")
        elif self._message_opcode:
            raise WireError("a new message began before the previous one's final frame")
        else:
            self._message_opcode = opcode
        if final and not self._fragments:
            self._message_opcode = 0
            return opcode, payload
        self._fragments.append(payload)
        self._fragments_len += len(payload)
        if not final:
            return None
        message = (self._message_opcode, b"".join(self._fragments))
        self._fragments.clear()
        self._fragments_len = self._message_opcode = 0
        return message


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + ACCEPT_GUID).encode()).digest()).decode()


class WireConnection(asyncio.Protocol):
    """One client connection: the upgrade, then frames in and out (see the module doc)."""

    def __init__(
        self, request: bytes, key: str, on_text: Callable[[float, str], None], rcvbuf: int = 0
    ) -> None:
        self._request = request
        self._rcvbuf = rcvbuf
        self._accept = accept_for(key)
        self._on_text = on_text
        self._head = b""
        self._reader = FrameReader()
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._writable: asyncio.Future[None] | None = None
        self._close_sent = False
        self.error = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._rcvbuf:  # before the upgrade, so the first burst meets the bigger buffer
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._rcvbuf)
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        try:
            if not self.opened.done():
                data = self._handshake(data)
            for opcode, payload in self._reader.feed(data) if data else ():
                if opcode == TEXT:
                    self._on_text(time.monotonic(), payload.decode())
                elif opcode == PING:
                    self._write(client_frame(PONG, payload))
                elif opcode == CLOSE:
                    self._closing(payload)
        except (WireError, UnicodeDecodeError) as exc:
            self._fail(f"{type(exc).__name__}: {exc}")

    def _handshake(self, data: bytes) -> bytes:
        """Read the response head; returns the bytes after it (frames already sent)."""
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_RESPONSE_HEAD:
                raise WireError(f"no end of the HTTP response in {MAX_RESPONSE_HEAD} bytes")
            return b""
        lines = self._head[:end].decode("latin-1").split("\r\n")
        rest, self._head = self._head[end + 4 :], b""
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if lines[0].split(" ", 2)[1:2] != ["101"]:
            raise WireError(f"the server refused the upgrade: {lines[0]!r}")
        if headers.get("sec-websocket-accept") != self._accept:
            raise WireError("Sec-WebSocket-Accept does not match the key sent")
        if headers.get("upgrade", "").lower() != "websocket":
            raise WireError(f"Upgrade is {headers.get('upgrade')!r}, not websocket")
        if "sec-websocket-extensions" in headers:
            raise WireError("the server agreed an extension that was not offered")
        self.opened.set_result(None)
        return rest

    def _closing(self, payload: bytes) -> None:
        """The server's close: echo its code (RFC 6455 5.5.1), then the TCP close is its."""
        if not self._close_sent:
            self._write(client_frame(CLOSE, payload[:2]))
            self._close_sent = True
        if not self.closed.done():
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.error = "" if code == 1000 else f"closed by the server: {code} {payload[2:]!r}"
            self.closed.set_result(None)

    def _fail(self, why: str) -> None:
        self.error = why
        if not self.opened.done():
            self.opened.set_exception(WireError(why))
        if not self.closed.done():
            self.closed.set_result(None)
        if self._transport is not None:
            self._transport.abort()

    def _write(self, frame: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(WireError(f"connection lost during the upgrade: {exc}"))
        if not self.closed.done():
            self.error = self.error or f"connection lost: {exc or 'closed without a close frame'}"
            self.closed.set_result(None)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    @property
    def paused(self) -> bool:
        """The transport's buffer is over its high-water mark (the peer reads too slowly)."""
        return self._writable is not None and not self._writable.done()

    def on_resume(self, callback: Callable[[], None]) -> None:
        assert self._writable is not None
        self._writable.add_done_callback(lambda _: callback())

    def write(self, frame: bytes) -> None:
        """Write a ready frame now (the caller minds ``paused``)."""
        if self.closed.done() or self._close_sent:
            raise WireError(self.error or "the connection is closed")
        assert self._transport is not None
        self._transport.write(frame)

    async def send(self, frame: bytes) -> None:
        """Write a ready frame; waits while the kernel's buffer is full (flow control)."""
        self.write(frame)
        if self._writable is not None and not self._writable.done():
            await self._writable

    async def close(self) -> None:
        """Our close (1000), the server's reply, then the socket."""
        if not self._close_sent and not self.closed.done():
            self._write(client_frame(CLOSE, (1000).to_bytes(2, "big")))
            self._close_sent = True
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self.error = self.error or f"no close reply from the server in {CLOSE_TIMEOUT_S} s"
        finally:
            if self._transport is not None:
                self._transport.close()


async def open_wire(
    url: str, key: str, on_text: Callable[[float, str], None], rcvbuf: int = 0
) -> WireConnection:
    """Connect to ``ws://host:port/path?query`` and upgrade; ``rcvbuf`` sizes SO_RCVBUF."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or parts.hostname is None:
        raise ValueError(f"{url!r}: the lean client speaks plain ws:// only")
    port = parts.port or 80
    nonce = base64.b64encode(os.urandom(16)).decode()
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.hostname}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {key}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    transport, connection = await loop.create_connection(
        lambda: WireConnection(request, nonce, on_text, rcvbuf), parts.hostname, port
    )
    try:
        await asyncio.wait_for(asyncio.shield(connection.opened), OPEN_TIMEOUT_S)
    except BaseException:
        transport.abort()
        raise
    return connection
