"""Two transports joined in memory, behaving like the two ends of a WebSocket.

Tests run a client session against a server session host with no sockets in
between, yet every closing rule of the real thing holds: a send after close
fails, a receive after the peer closed fails every time (after the messages
already in flight were read), close is idempotent and wakes every waiter on
both ends, and :meth:`MemoryTransport.abort` drops the link the way a network
does (code 1006, no reason).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from ..protocol.errors import Origin
from .base import ABNORMAL_CLOSURE, NORMAL_CLOSURE, ClosedLatch


@dataclass(slots=True)
class _Inbox:
    """Messages waiting for one end, with a wake-up for readers and for blocked writers."""

    messages: deque[str | bytes] = field(default_factory=deque)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        self.changed.set()

    async def wait(self) -> None:
        self.changed.clear()
        await self.changed.wait()


class MemoryTransport:
    """One end of a :func:`memory_pair`. Also accepts ``bytes`` to imitate binary frames."""

    def __init__(self, inbox: _Inbox, peer_inbox: _Inbox, max_queue: int) -> None:
        self._inbox = inbox
        self._peer_inbox = peer_inbox
        self._max_queue = max_queue
        self._latch = ClosedLatch()
        self._peer: MemoryTransport = self  # memory_pair joins the two ends

    @property
    def closed(self) -> bool:
        return self._latch.closed

    @property
    def close_code(self) -> int | None:
        """The close code once closed (1006 after :meth:`abort`), else ``None``."""
        return self._latch.code

    @property
    def close_reason(self) -> str:
        return self._latch.reason or ""

    async def send(self, message: str | bytes) -> None:
        """Deliver to the peer; waits while the peer's queue is full (``max_queue``)."""
        if not isinstance(message, str | bytes):
            raise TypeError(f"a transport sends str or bytes, not {type(message).__name__}")
        while True:
            self._latch.raise_if_closed()
            if not self._max_queue or len(self._peer_inbox.messages) < self._max_queue:
                break
            await self._peer_inbox.wait()
        self._peer_inbox.messages.append(message)
        self._peer_inbox.wake()
        await asyncio.sleep(0)  # like a socket write, give the reader a chance to run

    async def recv(self) -> str | bytes:
        """The next message; :class:`TransportClosed` once none can come any more.

        Messages the peer sent before it closed are still delivered; after a
        local close nothing is.
        """
        while True:
            if self._inbox.messages:  # emptied by a local close
                message = self._inbox.messages.popleft()
                self._inbox.wake()  # room for a writer blocked on max_queue
                return message
            self._latch.raise_if_closed()
            await self._inbox.wait()

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close both ends; the first close wins, later ones change nothing."""
        self._shut(code, reason)
        await asyncio.sleep(0)

    def abort(self) -> None:
        """Drop the connection without a close handshake: both ends see 1006."""
        self._shut(ABNORMAL_CLOSURE, "")

    def _shut(self, code: int, reason: str) -> None:
        if self._latch.closed:
            return
        # Both ends latch at once: this one closed locally, the peer was closed on.
        self._latch.record(code, reason, origin=Origin.LOCAL)
        self._peer._latch.record(code, reason, origin=Origin.REMOTE)
        self._inbox.messages.clear()
        self._inbox.wake()
        self._peer_inbox.wake()


def memory_pair(*, max_queue: int = 0) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected ends; ``max_queue`` > 0 bounds each direction (backpressure)."""
    if max_queue < 0:
        raise ValueError(f"max_queue must be >= 0 (0 = unbounded), got {max_queue}")
    left, right = _Inbox(), _Inbox()
    near = MemoryTransport(left, right, max_queue)
    far = MemoryTransport(right, left, max_queue)
    near._peer, far._peer = far, near
    return near, far
