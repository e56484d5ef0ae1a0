"""The frames a session host sends: numbered, queued in order, drained by one writer task.

Emitting only queues (no ``await``), so the order on the wire is the order in
which the conversation changed; the writer sends. An emitter waits only when
more than :data:`OUTBOX_HIGH_WATER` frames are queued (backpressure from a
slow client). Frames are numbered 1, 2, ... for resume, which re-sends the
ones a new connection missed and tells the writer to skip them.
"""

from __future__ import annotations

import asyncio

from ...transports.base import Transport, TransportClosed

# Queued messages beyond which an emitter waits for the client to catch up.
OUTBOX_HIGH_WATER = 256


class FrameOutbox:
    """The send queue of one session and its writer task."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._replayed_through = 0  # frames the writer skips: a resume re-sent them
        self.frames_emitted = 0

    def put(self, text: str) -> int:
        """Queue one frame; returns its number."""
        self.frames_emitted += 1
        self._queue.put_nowait((self.frames_emitted, text))
        return self.frames_emitted

    async def backpressure(self) -> None:
        if self._queue.qsize() > OUTBOX_HIGH_WATER:
            await self._queue.join()

    async def flush(self) -> None:
        """Wait until everything queued so far was handed to the transport."""
        await self._queue.join()

    def start(self, transport: Transport) -> None:
        """Start the writer on ``transport`` (after :meth:`stop`, on a new one)."""
        self._writer = asyncio.create_task(self._write(transport), name=f"{self._name}-writer")

    async def stop(self) -> None:
        """Cancel the writer (it may be stuck sending to a peer that never reads)."""
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    def skip_sent(self) -> None:
        """Everything numbered so far was replayed by resume: the writer skips it."""
        self._replayed_through = self.frames_emitted

    async def _write(self, transport: Transport) -> None:
        while True:
            seq, text = await self._queue.get()
            try:
                if seq > self._replayed_through and not transport.closed:
                    await transport.send(text)
            except TransportClosed:
                pass  # the receive loop sees the close and ends the session
            finally:
                self._queue.task_done()
