"""One proxied connection of :class:`~rtagents.testing.faults.FaultProxy`: two pipes.

Each direction is a reader task and a writer task with a small bounded queue
between them. The reader counts bytes and splits a chunk exactly where a
byte-triggered fault lies, queueing the fault as a marker in the byte stream;
the writer applies markers when it reaches them, so "cut after byte 1000"
forwards exactly 1000 bytes. Time-triggered faults apply directly, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import replace
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from .fault_plan import Fault

Streams: TypeAlias = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_Item: TypeAlias = "tuple[float, bytes] | Fault | None"  # None: end of stream
CHUNK = 65536
QUEUE_CHUNKS = 16  # read ahead per direction; beyond it TCP backpressure applies


class Pipe:
    """Bytes one way (``up``: client -> server), with this direction's faults."""

    def __init__(
        self, connection: ProxiedConnection, name: Literal["up", "down"], src: Streams, dst: Streams
    ):
        self.connection = connection
        self.name = name
        self.reader = src[0]
        self.writer = dst[1]
        self.read_bytes = 0
        self.forwarded = 0
        self.delay_s = 0.0
        self.piece = 0  # 0: forward chunks whole
        self.dropping = False
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.pending: list[Fault] = []  # byte-triggered, sorted by offset
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(QUEUE_CHUNKS)
        self._unstall: asyncio.TimerHandle | None = None

    async def read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await self.reader.read(CHUNK)
            if not data:
                await self._queue.put(None)
                return
            while self.pending and self.pending[0].at_byte is not None:
                offset = self.pending[0].at_byte - self.read_bytes
                if offset >= len(data):
                    break
                if offset > 0:
                    await self._queue.put((loop.time(), data[:offset]))
                    self.read_bytes += offset
                    data = data[offset:]
                await self._queue.put(self.pending.pop(0))
            self.read_bytes += len(data)
            await self._queue.put((loop.time(), data))

    async def write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item = await self._queue.get()
            if item is None:
                if not self.dropping:
                    with contextlib.suppress(OSError, RuntimeError):
                        self.writer.write_eof()
                return
            if not isinstance(item, tuple):
                self.apply(item)
                continue
            arrived, data = item
            await self.flowing.wait()
            if self.delay_s:
                await asyncio.sleep(max(0.0, arrived + self.delay_s - loop.time()))
            if not self.dropping:
                await self._forward(data)

    async def _forward(self, data: bytes) -> None:
        if not self.piece:
            self.writer.write(data)
            await self.writer.drain()
            self.forwarded += len(data)
            return
        for start in range(0, len(data), self.piece):
            self.writer.write(data[start : start + self.piece])  # TCP_NODELAY: a segment each
            await self.writer.drain()
            self.forwarded += min(self.piece, len(data) - start)
            await asyncio.sleep(0)  # let the peer read this piece before the next

    def apply(self, fault: Fault) -> None:
        if fault.kind == "cut":
            self.connection.cut()
        elif fault.kind == "half_close":
            self.dropping = True
            with contextlib.suppress(OSError, RuntimeError):
                self.writer.write_eof()
        elif fault.kind == "stall":
            self.stall(fault.ms)
        elif fault.kind == "delay":
            self.delay_s = (fault.ms or 0.0) / 1000
        else:
            self.piece = fault.size

    def stall(self, ms: float | None) -> None:
        """Hold everything from now for ``ms`` (None: until :meth:`resume`)."""
        self.flowing.clear()
        if self._unstall is not None:
            self._unstall.cancel()
            self._unstall = None
        if ms is not None:
            self._unstall = asyncio.get_running_loop().call_later(ms / 1000, self.resume)

    def resume(self) -> None:
        self._unstall = None
        self.flowing.set()

    def close(self) -> None:
        if self._unstall is not None:
            self._unstall.cancel()


class ProxiedConnection:
    """One client connection and its upstream twin; ``index`` counts from 0."""

    def __init__(self, index: int, client: Streams, upstream: Streams, plan: list[Fault]):
        self.index = index
        self.plan = plan
        self._writers = (client[1], upstream[1])
        self.up = Pipe(self, "up", client, upstream)
        self.down = Pipe(self, "down", upstream, client)
        self.was_cut = False
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: list[asyncio.TimerHandle] = []
        self._closed = asyncio.Event()

    @property
    def pipes(self) -> tuple[Pipe, Pipe]:
        return (self.up, self.down)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for fault in self.plan:
            if fault.at_s is not None:
                self._timers.append(loop.call_later(fault.at_s, self._apply_now, fault))
            elif fault.at_byte is not None:
                for pipe in self._targets(fault):
                    pipe.pending.append(fault)
            else:
                self._apply_now(fault)
        for pipe in self.pipes:
            pipe.pending.sort(key=lambda f: f.at_byte or 0)
            self._tasks += [
                asyncio.create_task(pipe.read_loop(), name=f"proxy-{self.index}-{pipe.name}-in"),
                asyncio.create_task(pipe.write_loop(), name=f"proxy-{self.index}-{pipe.name}-out"),
            ]
        try:
            _, pending = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
            if pending:  # a side reset or failed: pass the reset on, as a router would not
                self.cut()
                await asyncio.gather(*pending, return_exceptions=True)
        finally:
            for task in self._tasks:
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: a reset peer is expected here
            self._finish()

    def _targets(self, fault: Fault) -> list[Pipe]:
        if fault.direction == "both":
            return list(self.pipes)
        return [self.up if fault.direction == "up" else self.down]

    def _apply_now(self, fault: Fault) -> None:
        if fault.kind == "cut":
            self.cut()
            return
        for pipe in self._targets(fault):
            pipe.apply(replace(fault, direction=pipe.name))

    def stall(self, ms: float | None = None, direction: str = "both") -> None:
        for pipe in self.pipes:
            if direction in ("both", pipe.name):
                pipe.stall(ms)

    def resume(self) -> None:
        for pipe in self.pipes:
            pipe.resume()

    def cut(self) -> None:
        """Reset both sides now (idempotent)."""
        self.was_cut = True
        for writer in self._writers:
            reset(writer)
        for task in self._tasks:
            task.cancel()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def _finish(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for pipe in self.pipes:
            pipe.close()
        for writer in self._writers:
            writer.close()
        self._closed.set()


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN (SO_LINGER 0), as a crashed peer would."""
    if writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
