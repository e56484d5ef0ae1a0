"""The frames a session host sends: numbered, queued in order, drained by one writer task.

Emitting only queues (no ``await``), so the order on the wire is the order in
which the conversation changed; the writer sends. Frames are numbered 1, 2,
... for resume, which re-sends the ones a new connection missed and tells the
writer to skip them.

The queue is bounded by bytes, not by waiting: a client may fall behind by up
to ``limits.outbox_backlog_bytes`` of frames (a slow link catches up), and one
that lets more pile up is not reading: ``on_overflow`` is told once, and the
host closes the connection (1008) saying so. Emitters never wait for the
client, so a peer that never reads cannot stall its session's work, and the
backlog is what grows until the bound is reached. Counting costs one
``len(text)`` per frame each way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ...transports.base import Transport, TransportClosed
from .limits import Limits

DEFAULT_BACKLOG_BYTES = Limits().outbox_backlog_bytes


def _ignore(queued_bytes: int) -> None:
    """The default ``on_overflow``: nothing is told (tests that only count)."""


class FrameOutbox:
    """The send queue of one session and its writer task."""

    def __init__(
        self,
        name: str,
        *,
        backlog_bytes: int = DEFAULT_BACKLOG_BYTES,
        on_overflow: Callable[[int], None] = _ignore,
    ) -> None:
        self._name = name
        self._queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._replayed_through = 0  # frames the writer skips: a resume re-sent them
        self._backlog_bytes = backlog_bytes
        self._on_overflow = on_overflow
        self._overflowed = False  # this writer's client stopped reading
        self.frames_emitted = 0
        self.queued_bytes = 0  # characters of the frames not yet handed to the transport
        # Awaited before frame n is sent; False skips it (a shared resume log
        # writes each frame ahead of sending: host/session_resume.py).
        self.before_send: Callable[[int], Awaitable[bool]] | None = None

    def put(self, text: str) -> int:
        """Queue one frame; returns its number.

        After an overflow nothing more is queued for this connection (it is
        being closed); the frames still get their numbers, so a resumed
        connection is sent them from the resume log.
        """
        self.frames_emitted += 1
        if self._overflowed:
            return self.frames_emitted
        self._queue.put_nowait((self.frames_emitted, text))
        self.queued_bytes += len(text)
        # One frame alone is never a backlog (a big item.retrieve reply), only a pile-up.
        if self.queued_bytes > self._backlog_bytes and self._queue.qsize() > 1:
            self._overflowed = True
            self._on_overflow(self.queued_bytes)
        return self.frames_emitted

    async def flush(self) -> None:
        """Wait until everything queued so far was handed to the transport."""
        await self._queue.join()

    def start(self, transport: Transport) -> None:
        """Start the writer on ``transport`` (after :meth:`stop`, on a new one)."""
        self._overflowed = False
        self._writer = asyncio.create_task(self._write(transport), name=f"{self._name}-writer")

    async def stop(self) -> None:
        """Cancel the writer (it may be stuck sending to a peer that never reads)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            # Not kept: its CancelledError's traceback holds the writer's frame, and
            # through it the session, in a cycle only a full collection would free.
            await asyncio.gather(writer, return_exceptions=True)
        self._on_overflow = _stopped  # the host's method: a cycle through the host

    def skip_sent(self) -> None:
        """Everything numbered so far was replayed by resume: the writer skips it."""
        self._replayed_through = self.frames_emitted

    async def _write(self, transport: Transport) -> None:
        while True:
            seq, text = await self._queue.get()
            self.queued_bytes -= len(text)
            try:
                if seq > self._replayed_through and not transport.closed:
                    if self.before_send is None or await self.before_send(seq):
                        await transport.send(text)
            except TransportClosed:
                pass  # the receive loop sees the close and ends the session
            finally:
                self._queue.task_done()


def _stopped(queued_bytes: int) -> None:
    """A stopped outbox reports no overflow."""
