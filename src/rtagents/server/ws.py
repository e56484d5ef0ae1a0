"""A Starlette ``WebSocket`` seen through the :class:`Transport` seam.

The session host only knows ``send``/``recv``/``close``; this adapter maps the
ASGI message dance (and the several ways Starlette and uvicorn report a peer
that went away) onto :class:`TransportClosed`, so the host has exactly one
"the connection is gone" signal, whoever closed it and however.
"""

from __future__ import annotations

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..protocol.errors import Origin
from ..transports.base import (
    ABNORMAL_CLOSURE,
    NORMAL_CLOSURE,
    ClosedLatch,
    TransportClosed,
    frameless,
)

NO_STATUS = 1005  # RFC 6455: "no status code was present"; never sent on the wire


class StarletteTransport:
    """Implements ``transports.base.Transport`` over an accepted Starlette WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self._latch = ClosedLatch()

    @property
    def closed(self) -> bool:
        return self._latch.closed

    @property
    def close_code(self) -> int | None:
        return self._latch.code

    async def send(self, message: str) -> None:
        self._latch.raise_if_closed()
        try:
            await self._ws.send_text(message)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            # OSError covers uvicorn's ClientDisconnected; RuntimeError is
            # Starlette's "send after close". Either way the peer is gone.
            code = exc.code if isinstance(exc, WebSocketDisconnect) else ABNORMAL_CLOSURE
            raise self._mark_closed(code, "connection lost while sending") from frameless(exc)

    async def recv(self) -> str | bytes:
        self._latch.raise_if_closed()
        try:
            message = await self._ws.receive()
        except (RuntimeError, OSError) as exc:
            raise self._mark_closed(ABNORMAL_CLOSURE, "connection lost") from frameless(exc)
        if message["type"] == "websocket.disconnect":
            if message.get("code") == NO_STATUS and "reason" not in message:
                # uvicorn's word for a connection lost without any close frame.
                raise self._mark_closed(
                    ABNORMAL_CLOSURE, "connection dropped without a close frame"
                )
            raise self._mark_closed(
                int(message.get("code") or ABNORMAL_CLOSURE), str(message.get("reason") or "")
            )
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"")

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        if self._latch.closed:
            return
        self._latch.record(code, reason, origin=Origin.LOCAL)
        try:
            await self._ws.close(code, reason)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # already gone: closing is idempotent and never fails

    def _mark_closed(self, code: int, reason: str) -> TransportClosed:
        return self._latch.record(code, reason)
