"""Audio of a WebRTC call: a paced outbound track, and inbound frames as pcm16.

The outbound track plays pcm16 mono at 24 kHz (:data:`PCM_RATE`, the engines'
and the Realtime API's rate); aiortc's Opus codec works at 48 kHz and
resamples what it is given. Inbound frames come out mono at the rate asked
for: 24 kHz for a client, or Opus's own 48 kHz (:data:`OPUS_RATE`) for a
server that resamples once, where the audio is used. The outbound track
plays queued audio in 20 ms frames at the speed of the clock (aiortc sends
whatever ``recv()`` returns at once, so the track itself must keep time),
filling gaps with silence as a live microphone would, and counts what it has
actually played per *tag*: that count is what a barge-in truncates to.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from collections.abc import AsyncIterator, Hashable
from typing import Protocol

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from ..protocol.audio import PCM_RATE
from ..protocol.bounded import RecentDict

OPUS_RATE = 48_000  # what aiortc decodes Opus to
FRAME_MS = 20
FRAME_SAMPLES = PCM_RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
BYTES_PER_MS = PCM_RATE * 2 // 1000
# Behind schedule by more than this (a stalled loop), restart the clock
# instead of sending a burst the peer's jitter buffer would drop.
MAX_LAG_S = 0.2
# Tags whose played count is kept: a barge-in asks about the ones playing now.
TAGS_KEPT = 256
_TIME_BASE = fractions.Fraction(1, PCM_RATE)
_SILENCE = bytes(FRAME_BYTES)


class PlayoutListener(Protocol):
    """Told when tagged audio starts playing, and when playing stops with the queue empty."""

    def playing(self, tag: Hashable) -> None: ...

    def idle(self, tag: Hashable) -> None: ...


class PacedAudioTrack(MediaStreamTrack):
    """An outbound audio track fed with pcm16 chunks at :data:`PCM_RATE`, each under a tag."""

    kind = "audio"

    def __init__(self, listener: PlayoutListener | None = None) -> None:
        super().__init__()
        self.listener = listener
        self._queue: deque[tuple[Hashable, bytes]] = deque()
        self._queued = 0
        self._played: RecentDict[Hashable, int] = RecentDict(TAGS_KEPT)
        self._current: Hashable = None  # the tag whose audio plays (or played last)
        self._playing = False
        self._empty = asyncio.Event()
        self._empty.set()
        self._start: float | None = None
        self._frames = 0

    @property
    def queued_ms(self) -> float:
        return self._queued / BYTES_PER_MS

    @property
    def current(self) -> Hashable | None:
        """The tag being played, or None while the track plays silence."""
        return self._current if self._playing else None

    def played_ms(self, tag: Hashable) -> float:
        """Milliseconds of ``tag``'s audio sent out so far."""
        return self._played.get(tag, 0) / BYTES_PER_MS

    def enqueue(self, pcm16: bytes, tag: Hashable = None) -> None:
        """Queue audio to play after what is already queued (odd trailing bytes dropped)."""
        pcm16 = pcm16[: len(pcm16) - len(pcm16) % 2]
        if not pcm16 or self.readyState != "live":
            return
        self._queue.append((tag, pcm16))
        self._queued += len(pcm16)
        self._empty.clear()

    def queued_tags(self) -> list[Hashable]:
        """The tags with audio still queued, in play order."""
        return list(dict.fromkeys(tag for tag, _ in self._queue))

    def clear(self) -> list[Hashable]:
        """Drop everything queued and stop playing; returns the tags whose audio was dropped."""
        dropped = self.queued_tags()
        self._queue.clear()
        self._queued = 0
        self._playing = False
        self._empty.set()
        return dropped

    async def drained(self) -> None:
        """Wait until everything queued so far was played (or dropped)."""
        await self._empty.wait()

    def stop(self) -> None:
        self.clear()
        super().stop()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._keep_time()
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(self._next_frame())
        frame.sample_rate = PCM_RATE
        frame.pts = self._frames * FRAME_SAMPLES
        frame.time_base = _TIME_BASE
        self._frames += 1
        return frame

    async def _keep_time(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._start is None:
            self._start = now
        due = self._start + self._frames * FRAME_MS / 1000
        if now - due > MAX_LAG_S:
            self._start = now - self._frames * FRAME_MS / 1000
            return
        if due > now:
            await asyncio.sleep(due - now)

    def _next_frame(self) -> bytes:
        """The next 20 ms: queued audio (crediting each tag), padded with silence."""
        out = bytearray()
        while self._queue and len(out) < FRAME_BYTES:
            tag, chunk = self._queue[0]
            if not self._playing or tag != self._current:
                self._playing, self._current = True, tag
                if self.listener is not None:
                    self.listener.playing(tag)
            take = chunk[: FRAME_BYTES - len(out)]
            out += take
            self._played[tag] = self._played.get(tag, 0) + len(take)
            self._queued -= len(take)
            if len(take) == len(chunk):
                self._queue.popleft()
            else:
                self._queue[0] = (tag, chunk[len(take) :])
        if not self._queue:
            self._empty.set()
            if self._playing and len(out) < FRAME_BYTES:
                self._playing = False
                if self.listener is not None:
                    self.listener.idle(self._current)
        return bytes(out) + _SILENCE[len(out) :]


async def pcm16_frames(track: MediaStreamTrack, rate: int = PCM_RATE) -> AsyncIterator[bytes]:
    """A remote audio track's frames as pcm16 mono chunks at ``rate``, until the track ends."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if not isinstance(frame, av.AudioFrame):
            continue
        for out in resampler.resample(frame):
            yield bytes(out.planes[0])[: out.samples * 2]
