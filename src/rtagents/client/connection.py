"""One transport to one server session: the state a reconnect replaces as a whole.

A :class:`Connection` is what the session sends on and reads from: the
transport, the resume ticket the server handed out with it, how many server
frames it received, the numbering (:class:`~.outbox.ResendRing`) of what was
sent, and the lock that keeps numbering and sending in one order. A reconnect
never edits it in place: a resume builds the next one with
:meth:`Connection.resumed_on` (same server session, so numbering, count and
ticket go on), a rebuild or a rollover with :meth:`Connection.fresh` (a new
server session starts from zero), and the session swaps it in whole.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..protocol.errors import ConnectionFailure
from ..transports.base import GOING_AWAY, Transport
from .outbox import ResendRing, SendQueue
from .resume_ticket import ResumeTicket, read_ticket, response_headers, resume_headers

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..observability.event_log import EventLog

log = logging.getLogger("rtagents.client.session")


class Connection:
    """The live link to one server session over one transport."""

    def __init__(
        self,
        transport: Transport,
        *,
        ring: ResendRing,
        ticket: ResumeTicket | None = None,
        received: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.clock = clock
        """The time source of :attr:`last_heard` (the stall watchdog's clock)."""
        self.ticket = ticket
        """The resume ticket of the server session, if its server offers resume."""
        self.ring = ring
        """Numbering and resend ring of what was sent to this server session."""
        self.received = received
        """Server text frames received on this server session (across resumes)."""
        self.live = False
        """Sends go out on it now; until then (and once it is lost) they queue."""
        self.lost: str | None = None
        """Why it died before the reconnect that opened it declared the session back."""
        self.opening: asyncio.Future[ConnectionFailure] | None = None
        """While this connection opens the session: the reader resolves it if it is lost."""
        self.last_heard = clock()
        self._send_lock = asyncio.Lock()

    @classmethod
    def fresh(
        cls, transport: Transport, *, ring_bytes: int, clock: Callable[[], float] = time.monotonic
    ) -> Connection:
        """A connection to a new server session: numbering and counts start at zero."""
        ticket = read_ticket(response_headers(transport))
        return cls(transport, ring=ResendRing(ring_bytes), ticket=ticket, clock=clock)

    def resumed_on(self, transport: Transport) -> Connection:
        """The same server session on ``transport``: numbering, count and ticket go on."""
        ticket = read_ticket(response_headers(transport)) or self.ticket
        return Connection(
            transport, ring=self.ring, ticket=ticket, received=self.received, clock=self.clock
        )

    def resume_headers(self) -> dict[str, str] | None:
        """The handshake headers that ask to resume this server session; None: it cannot."""
        if self.ticket is None:
            return None
        return resume_headers(self.ticket, self.received)

    @property
    def sent(self) -> int:
        """Frames put on this server session so far (the last sequence number)."""
        return self.ring.sent

    # -- receiving ---------------------------------------------------------------------

    async def recv(self) -> str | bytes:
        """The next frame (see :meth:`count`: only the reader knows if it is taken)."""
        return await self.transport.recv()

    def count(self, raw: str | bytes) -> None:
        """A frame of this connection was taken: text frames count for a resume.

        Not done in :meth:`recv`: a frame read on a connection the session has
        already let go of is not processed, so it must not be claimed either.
        """
        self.last_heard = self.clock()
        if isinstance(raw, str):
            self.received += 1

    def heard(self) -> None:
        """Count now as the last sign of life (a silence was just reported)."""
        self.last_heard = self.clock()

    # -- sending -----------------------------------------------------------------------

    async def send(self, text: str) -> bool:
        """Number ``text`` and send it; False (nothing sent) if it is not live any more.

        Checked under the lock: a sender that waited while the connection was
        let go must queue its frame for the next one, not number it here.
        """
        async with self._send_lock:
            if not self.live:
                return False
            self.ring.number(text)
            await self.transport.send(text)
            return True

    async def send_before_live(self, text: str) -> None:
        """Number and send a frame of a rebuild's replay (nothing else sends here yet)."""
        self.ring.number(text)
        await self.transport.send(text)

    async def resend(self, frames: Iterable[str]) -> None:
        """Frames the resumed server missed, already numbered, in order."""
        for text in frames:
            await self.transport.send(text)

    async def go_live(self, queue: SendQueue, event_log: EventLog) -> None:
        """Send what queued while no connection took sends, then take sends directly."""
        async with self._send_lock:
            while (entry := queue.pop()) is not None:
                self.ring.number(entry[2])
                await self.transport.send(entry[2])
                event_log.outbound(entry[0], entry[1], outcome="flushed")
            self.live = True

    # -- letting go --------------------------------------------------------------------

    async def close(self, code: int, reason: str) -> None:
        """Close the transport, saying why (best effort: the session ends either way)."""
        try:
            await self.transport.close(code, reason)
        except Exception:
            log.debug("closing the transport failed", exc_info=True)

    async def discard(self) -> None:
        """Let go of a connection we no longer use, without waiting on a silent peer."""
        self.live = False
        await discard(self.transport)


async def discard(transport: Transport) -> None:
    """Let go of a transport we no longer use, without waiting on a silent peer."""
    abort = getattr(transport, "abort", None)
    try:
        if callable(abort):
            abort()
        else:
            await asyncio.wait_for(transport.close(GOING_AWAY, "abandoned"), 1.0)
    except Exception:  # best effort: it is dead to us either way
        log.debug("discarding a transport failed", exc_info=True)
