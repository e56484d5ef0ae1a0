"""The WebSocket transport: ``websockets`` (asyncio) behind the :class:`Transport` seam.

This module is the boundary where ``websockets`` and ``OSError`` exceptions
stop: everything above sees :class:`ConnectionFailure` (opening failed, with a
message saying *what* failed: refused, DNS, TLS, timeout, or the HTTP status
and the server's own message) or :class:`TransportClosed` (the connection is
over, with its close code; 1006 when it dropped without a close frame).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)
from websockets.typing import Subprotocol

from ..protocol.errors import ConnectionFailure, Origin
from .base import ABNORMAL_CLOSURE, NORMAL_CLOSURE, ClosedLatch, TransportClosed, frameless
from .rejection import read_rejection

DEFAULT_MAX_SIZE = 32 * 2**20


class HandshakeRejected(ConnectionFailure):
    """The server answered the WebSocket handshake with an HTTP error ``status``."""

    def __init__(self, message: str, *, status: int, code: str, origin: Origin) -> None:
        super().__init__(message, origin=origin, code=code)
        self.status = status


class WebSocketTransport:
    """One open client WebSocket, speaking whole text messages."""

    def __init__(self, connection: ClientConnection) -> None:
        self._ws = connection
        self._latch = ClosedLatch()

    @property
    def closed(self) -> bool:
        return self._latch.closed

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose, if any."""
        return self._ws.subprotocol

    @property
    def response_headers(self) -> dict[str, str]:
        """Headers of the server's handshake answer (lower-case names).

        The client reads server extensions here, such as the rtagents resume headers.
        """
        response = self._ws.response
        if response is None:
            return {}
        return {name.lower(): value for name, value in response.headers.raw_items()}

    def abort(self) -> None:
        """Drop the TCP connection now, without a close handshake.

        For a connection that stopped answering: a close handshake would wait
        for a peer that is not listening.
        """
        self._latch.record(ABNORMAL_CLOSURE, "aborted", origin=Origin.LOCAL)
        self._ws.transport.abort()

    async def send(self, message: str) -> None:
        self._latch.raise_if_closed()
        try:
            await self._ws.send(message)
        except ConnectionClosed as exc:
            raise self._record(exc) from frameless(exc)

    async def recv(self) -> str | bytes:
        self._latch.raise_if_closed()
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            raise self._record(exc) from frameless(exc)
        except ConcurrencyError as exc:
            # Two tasks reading one connection: a bug in the caller, never the peer's.
            raise ConnectionFailure(
                "two tasks called recv() on one WebSocket at once; read from a single task",
                origin=Origin.LOCAL,
                code="concurrent_recv",
            ) from exc

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        if self._latch.closed:
            return
        self._latch.record(code, reason, origin=Origin.LOCAL)
        await self._ws.close(code, reason)

    def _record(self, exc: ConnectionClosed) -> TransportClosed:
        """Remember how the connection ended, so every later call reports the same."""
        return self._latch.adopt(closed_from(exc))


def closed_from(exc: ConnectionClosed) -> TransportClosed:
    """Our close error for a ``websockets`` one: the peer's code, or 1006 if none came."""
    if exc.rcvd is not None:
        return TransportClosed(exc.rcvd.code, exc.rcvd.reason)
    if exc.sent is not None:
        return TransportClosed(exc.sent.code, exc.sent.reason, origin=Origin.LOCAL)
    return TransportClosed(ABNORMAL_CLOSURE, "connection dropped without a close frame")


async def connect_websocket(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    subprotocols: Sequence[str] = (),
    open_timeout: float = 10.0,
    max_size: int | None = DEFAULT_MAX_SIZE,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    close_timeout: float | None = 10.0,
    compression: str | None = "deflate",
) -> WebSocketTransport:
    """Open a WebSocket to ``url``; raise :class:`ConnectionFailure` saying what failed.

    ``ping_interval``/``ping_timeout`` are the keepalive: a connection whose
    pongs stop coming closes with 1011 (after up to ``close_timeout`` waiting for
    the peer's close frame), which a reconnecting client retries. ``compression``
    None turns permessage-deflate off (a relay's upstream hop: less CPU per event).
    """
    try:
        connection = await connect(
            url,
            additional_headers=dict(headers or {}),
            subprotocols=[Subprotocol(p) for p in subprotocols] or None,
            open_timeout=open_timeout,
            max_size=max_size,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            compression=compression,
        )
    except Exception as exc:
        raise opening_failure(url, exc, open_timeout) from exc
    return WebSocketTransport(connection)


def opening_failure(url: str, exc: BaseException, open_timeout: float) -> ConnectionFailure:
    """Translate why opening ``url`` failed into one specific, readable error."""
    where = _host_port(url)
    code, message, origin = _describe(exc, url, where, open_timeout)
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return HandshakeRejected(message, status=status, code=code, origin=origin)
    return ConnectionFailure(message, origin=origin, code=code)


def _describe(
    exc: BaseException, url: str, where: str, open_timeout: float
) -> tuple[str, str, Origin]:
    remote, local = Origin.REMOTE, Origin.LOCAL
    if isinstance(exc, InvalidStatus):
        return _status_failure(exc, url)
    if isinstance(exc, InvalidURI | ValueError):
        return (
            "invalid_url",
            f"{url!r} is not a valid WebSocket URL (ws:// or wss://): {exc}",
            local,
        )
    if isinstance(exc, TimeoutError):
        return (
            "timeout",
            f"timed out after {open_timeout:g} s opening a WebSocket to {where}",
            remote,
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            "connection_refused",
            f"connection refused by {where}: is the server running?",
            remote,
        )
    if isinstance(exc, socket.gaierror):
        host = urlsplit(url).hostname or url
        return "dns_failed", f"could not resolve host {host!r} (DNS: {exc.strerror})", remote
    if isinstance(exc, ssl.SSLError):
        return "tls_failed", f"TLS handshake with {where} failed: {exc}", remote
    if isinstance(exc, OSError):
        return "connection_failed", f"could not connect to {where}: {exc.strerror or exc}", remote
    if isinstance(exc, WebSocketException):
        return "handshake_failed", f"WebSocket handshake with {where} failed: {exc}", remote
    return "connection_failed", f"opening a WebSocket to {where} failed: {exc!r}", remote


def _status_failure(exc: InvalidStatus, url: str) -> tuple[str, str, Origin]:
    """A handshake answered with an HTTP status: say which, with the server's reason."""
    rejection = read_rejection(exc.response.status_code, exc.response.body)
    detail = rejection.detail or exc.response.reason_phrase or "no reason given"
    message = f"WebSocket handshake to {url} was rejected with HTTP {rejection.status}: {detail}"
    if rejection.status == 401:
        message += " (check the API key or client secret; ek_ secrets expire)"
    return rejection.code, message, rejection.origin


def _host_port(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return repr(url)
    if parts.hostname is None:
        return repr(url)
    return f"{parts.hostname}:{port}" if port else parts.hostname


__all__ = [
    "HandshakeRejected",
    "WebSocketTransport",
    "closed_from",
    "connect_websocket",
    "opening_failure",
]
