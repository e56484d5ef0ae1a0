"""One session's resume log in Redis: a write-ahead copy of every frame it sends.

Another node can resume a session only from what Redis holds, so a frame
reaches the client only after it is in Redis (:meth:`SharedFrameLog.durable`,
awaited by the host's writer before each send): whatever the client has, the
log has. Frames go to a Stream (``XADD`` with the frame's number as its id,
``MAXLEN`` bounded) in batches, one Lua script per batch that also records how
many client frames the session has handled, and checks first that this node
still owns the session (a node that lost it, because another took over, writes
nothing more and stops sending).

A batch is cut only between client frames, never while one is being handled
(the host has read more client frames than
:meth:`frame_handled` counted): a client frame's effects and
its count land together or not at all, so a node that takes over tells the
client exactly which of its frames to send again, and a tool output it sent
lands once.

If Redis fails, the log stops for good and the session goes on here; its
Redis copy then lags what the client got, so a resume elsewhere is refused
as a gap (the client rebuilds) rather than replaying a log with a hole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("rtagents.server.redis")

# KEYS: session hash, stream. ARGV: node, received, maxlen, ttl_s, then seq, frame pairs.
# 1: written; 0: this node no longer owns the session.
APPEND = """
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] then return 0 end
for i = 5, #ARGV, 2 do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], ARGV[i] .. '-0', 'f', ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'received', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""


class SharedFrameLog:
    """The Redis copy of one session's sent frames, written ahead of sending."""

    def __init__(
        self,
        redis: Redis,
        script: Any,
        *,
        session_key: str,
        stream_key: str,
        node_id: str,
        max_frames: int,
        ttl_s: int,
        last_seq: int = 0,
        received: int = 0,
        reading: Callable[[], int],
    ) -> None:
        self._redis = redis
        self._script = script
        self._keys = [session_key, stream_key]
        self._node_id = node_id
        self._max_frames = max_frames
        self._ttl_s = ttl_s
        self._queued: list[tuple[int, str]] = []
        self._last_queued = last_seq
        self.durable_seq = last_seq  # frames 1..durable_seq are in Redis
        self.received = received  # client frames handled, as Redis knows it
        self._handled = received
        self._reading = reading  # client frames read so far (the host's count)
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self.broken = False  # Redis failed: the log stopped, frames go out unlogged
        self.lost = False  # another node owns the session now: send nothing more
        self.closing = False  # the session ended or was handed off: its keys are settled
        # Set once the session's hash is written (or could not be): later writes wait for it.
        self.announced = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    def start(self, first: Coroutine[Any, Any, None] | None) -> None:
        """Start writing; ``first`` runs before the first batch (the session's hash)."""
        self._writer = asyncio.create_task(self._write(first), name="rtagents-redis-log")

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        self._progress.set()

    def append(self, seq: int, text: str) -> None:
        """Queue frame ``seq`` (called as the host numbers it; never waits)."""
        if self.broken or self.lost:
            return
        self._queued.append((seq, text))
        self._last_queued = seq
        self._wake.set()

    def frame_handled(self) -> None:
        """One more client frame was handled, its effects all emitted (queued before now)."""
        self._handled += 1
        self._wake.set()

    async def settled(self) -> None:
        """Wait until everything queued so far is in Redis (or the log stopped)."""
        await self.durable(self._last_queued)

    async def durable(self, seq: int) -> bool:
        """Wait until frame ``seq`` is in Redis; False if it must not be sent (session lost)."""
        while self.durable_seq < seq and not self.broken and not self.lost:
            self._progress.clear()
            await self._progress.wait()
        return not self.lost

    async def _write(self, first: Coroutine[Any, Any, None] | None) -> None:
        try:
            if first is not None:
                try:
                    await first
                except (RedisError, OSError) as exc:
                    log.error("cannot register a resumable session in Redis: %s", exc)
                    self.broken = True
                    return
                finally:
                    self.announced.set()
            self.announced.set()
            while True:
                await self._wake.wait()
                self._wake.clear()
                # Work a handled frame spawned takes its first step before the batch is cut:
                # response.create's task emits response.created there, which must land with
                # the frame's count (else a node taking over would have neither response
                # nor the frame to handle again).
                await asyncio.sleep(0)
                if self._reading() > self._handled:
                    continue  # a client frame is mid-handling: frame_handled wakes us
                batch, self._queued = self._queued, []
                handled = self._handled
                # One script for the whole batch: its frames and its count land together.
                await self._flush(batch, handled)
                if self.lost or self.broken:
                    return
        finally:
            self._progress.set()

    async def _flush(self, frames: list[tuple[int, str]], handled: int) -> None:
        args: list[Any] = [self._node_id, handled, self._max_frames, self._ttl_s]
        for seq, text in frames:
            args += [seq, text]
        try:
            owned = await self._script(keys=self._keys, args=args)
        except (RedisError, OSError) as exc:
            log.error("the Redis resume log failed; this session can no longer move: %s", exc)
            self.broken = True
            self._progress.set()
            return
        if not owned:
            log.warning("another node took this session over; it stops here")
            self.lost = True
        else:
            if frames:
                self.durable_seq = frames[-1][0]
            self.received = handled
        self._progress.set()
