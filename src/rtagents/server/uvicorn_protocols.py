"""uvicorn's HTTP/1.1 and WebSocket protocols, with the two bounds uvicorn lacks.

- **Header read timeout.** uvicorn's h11 protocol (the one in use: ``auto``
  picks it when httptools is absent, and :func:`http_protocol` pins it) has
  no timer for a request head: a socket sending one header byte now and then
  stays open for as long as it likes (slowloris). Here a timer starts when the
  connection is made, and again whenever a keep-alive connection waits for its
  next request; a complete head (a WebSocket upgrade's included) stops it.
  When it fires the client gets ``408`` with the usual JSON ``error`` body and
  the socket is closed.
- **Closing a peer that stopped reading.** uvicorn's websockets-sansio
  protocol waits until the socket is writable before writing *anything*, the
  close frame included, so closing a client that never reads waited forever.
  Here the close frame is queued behind what is buffered (a client that reads
  again still sees the code and reason) and, if the buffer has not drained
  ``close_grace_s`` later, the connection is aborted instead of closed.
- **Reading ahead a few messages.** uvicorn pauses the socket after every
  message and resumes it when the app takes that message: two ``epoll_ctl``
  calls and a dozen Python frames per append, 6-8 % of a loaded server's CPU
  (``bench/load.py`` under py-spy). Here reading pauses only once
  :data:`READ_AHEAD_MESSAGES` messages wait for the app, or one of at least
  :data:`READ_AHEAD_BYTES` does, and resumes when the app has taken them all
  (uvicorn's own resume). A peer can make the server hold at most that many
  small messages, one message up to ``limits.frame_bytes`` and one socket read.
"""

from __future__ import annotations

import asyncio
import json
import logging

import h11
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from .auth import Refusal

log = logging.getLogger("rtagents.server.serving")

READ_AHEAD_MESSAGES = 4  # messages waiting for the app before reading pauses
READ_AHEAD_BYTES = 1 << 20  # a message this large pauses reading at once


class HeaderTimeoutH11Protocol(H11Protocol):
    """h11 that closes a connection whose request head is not complete in time."""

    header_timeout_s: float = 10.0  # set per server by http_protocol()
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Past IDLE the head has been read (a body or an upgrade may follow).
        if self._head_timer is not None and self.conn.their_state is not h11.IDLE:
            self._stop_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Keep-alive: the next request's head gets the same time (a pipelined
        # one may already be in, and then the client is past IDLE).
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        log.debug("closed a connection that sent no request head in %g s", self.header_timeout_s)
        # The timer only runs while no request is in progress, so a response fits.
        self.transport.write(_request_timeout(self.header_timeout_s))
        self.transport.close()


def _request_timeout(seconds: float) -> bytes:
    refusal = Refusal(
        408,
        "request_timeout",
        f"No complete request head arrived within {seconds:g} s "
        "(limits.header_read_timeout_s); the connection is closed.",
    )
    body = json.dumps(refusal.body()).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


def http_protocol(header_timeout_s: float) -> type[HeaderTimeoutH11Protocol]:
    """The HTTP protocol class for ``uvicorn.Config(http=...)``, with this head timeout."""

    class ConfiguredH11Protocol(HeaderTimeoutH11Protocol):
        pass

    ConfiguredH11Protocol.header_timeout_s = header_timeout_s
    return ConfiguredH11Protocol


class PromptCloseWebSocketProtocol(WebSocketsSansIOProtocol):
    """websockets-sansio whose close never waits for a peer that stopped reading."""

    # How long after our close frame the peer has to finish the closing
    # handshake (uvicorn's own close timeout, 10 s): a client that reads again
    # in that time gets every frame before the close, its code and reason.
    close_grace_s: float = 10.0

    def send_receive_event_to_app(self) -> None:
        """Queue the message just read for the app; pause reading only when enough wait."""
        size = sum(map(len, self.frames))
        paused = self.read_paused
        self.read_paused = True  # so uvicorn's pause after every message is skipped
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = paused
        if paused or self.transport.is_closing():
            return
        if size >= READ_AHEAD_BYTES or self.queue.qsize() >= READ_AHEAD_MESSAGES:
            self.read_paused = True  # uvicorn's receive() resumes when the queue is empty
            self.transport.pause_reading()

    async def send(self, message: ASGISendEvent) -> None:
        closing = message["type"] == "websocket.close"
        if closing:
            # uvicorn waits for "writable" first; a paused transport buffers
            # the frame instead, behind the data the peer has yet to read.
            self.writable.set()
        await super().send(message)
        if closing and self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = self.loop.call_later(self.close_grace_s, self._close_or_abort)

    def _close_or_abort(self) -> None:
        """The closing handshake did not finish in time: close, or abort if still full.

        ``close()`` on a transport with buffered data waits for the peer to
        read it, which a peer that never reads never does.
        """
        self.close_timer = None
        if self.transport.get_write_buffer_size():
            self.transport.abort()
        else:
            self.transport.close()
