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
from .base import ABNORMAL_CLOSURE, NORMAL_CLOSURE, TransportClosed
from .rejection import read_rejection

DEFAULT_MAX_SIZE = 32 * 2**20


class WebSocketTransport:
    """One open client WebSocket, speaking whole text messages."""

    def __init__(self, connection: ClientConnection) -> None:
        self._ws = connection
        self._closed: TransportClosed | None = None

    @property
    def closed(self) -> bool:
        return self._closed is not None

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose, if any."""
        return self._ws.subprotocol

    async def send(self, message: str) -> None:
        if self._closed is not None:
            raise self._closed
        try:
            await self._ws.send(message)
        except ConnectionClosed as exc:
            raise self._record(exc) from exc

    async def recv(self) -> str | bytes:
        if self._closed is not None:
            raise self._closed
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            raise self._record(exc) from exc
        except ConcurrencyError as exc:
            # Two tasks reading one connection: a bug in the caller, never the peer's.
            raise ConnectionFailure(
                "two tasks called recv() on one WebSocket at once; read from a single task",
                origin=Origin.LOCAL,
                code="concurrent_recv",
            ) from exc

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        if self._closed is not None:
            return
        self._closed = TransportClosed(code, reason, origin=Origin.LOCAL)
        await self._ws.close(code, reason)

    def _record(self, exc: ConnectionClosed) -> TransportClosed:
        """Remember how the connection ended, so every later call reports the same."""
        if self._closed is None:
            self._closed = closed_from(exc)
        return self._closed


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
) -> WebSocketTransport:
    """Open a WebSocket to ``url``; raise :class:`ConnectionFailure` saying what failed."""
    try:
        connection = await connect(
            url,
            additional_headers=dict(headers or {}),
            subprotocols=[Subprotocol(p) for p in subprotocols] or None,
            open_timeout=open_timeout,
            max_size=max_size,
        )
    except Exception as exc:
        raise opening_failure(url, exc, open_timeout) from exc
    return WebSocketTransport(connection)


def opening_failure(url: str, exc: BaseException, open_timeout: float) -> ConnectionFailure:
    """Translate why opening ``url`` failed into one specific, readable error."""
    where = _host_port(url)
    code, message, origin = _describe(exc, url, where, open_timeout)
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
    "WebSocketTransport",
    "closed_from",
    "connect_websocket",
    "opening_failure",
]
