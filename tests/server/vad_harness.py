"""Streaming audio into a live server in lock step, so audio time is known on both sides.

``Streamer.send`` appends one chunk and then a *marker*: a retrieve of an
item that does not exist, whose ``error`` (carrying the marker's event id)
comes back only after the server has processed the append and everything
it caused. So every event the server emits is attributed to the exact
amount of audio the client had sent when it happened, with no clocks.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from server_harness import RawClient

from rtagents.engines.scripted import scripted_speech

BYTES_PER_MS = 48  # pcm16 at 24 kHz


def speech(text: str, *, lead_ms: int = 0, tail_ms: int = 0) -> bytes:
    """Tone-coded ``text`` (50 ms per character) between digital silences."""
    return bytes(lead_ms * BYTES_PER_MS) + scripted_speech(text) + bytes(tail_ms * BYTES_PER_MS)


def silence(ms: int) -> bytes:
    return bytes(ms * BYTES_PER_MS)


async def configure(client: RawClient, turn_detection: Any, **session: Any) -> Any:
    """``session.update`` with ``turn_detection`` (and other fields); the session.updated."""
    audio = dict(session.pop("audio", {}))
    audio_input = {**audio.get("input", {}), "turn_detection": turn_detection}
    update = {"type": "realtime", **session, "audio": {**audio, "input": audio_input}}
    return await client.roundtrip({"type": "session.update", "session": update}, "session.updated")


@dataclass
class Seen:
    """An event and how much audio (ms) the client had appended when it came."""

    event: Any
    sent_ms: float


@dataclass
class Streamer:
    client: RawClient
    sent_ms: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    _marks: int = 0

    async def send(
        self, pcm16: bytes, *, chunk_ms: int | Iterable[int] = 20, bytes_per_ms: int = BYTES_PER_MS
    ) -> None:
        """Append ``pcm16`` chunk by chunk (sizes cycle), each followed by a marker round trip."""
        sizes = itertools.cycle([chunk_ms] if isinstance(chunk_ms, int) else list(chunk_ms))
        at = 0
        while at < len(pcm16):
            piece = pcm16[at : at + next(sizes) * bytes_per_ms]
            at += len(piece)
            audio = base64.b64encode(piece).decode()
            await self.client.send({"type": "input_audio_buffer.append", "audio": audio})
            self.sent_ms += len(piece) / bytes_per_ms
            await self.mark()

    async def quiet_until(self, event_type: str, *, nth: int = 1, limit_ms: int = 3000) -> Seen:
        """Append silence 20 ms at a time until the ``nth`` event of ``event_type`` came.

        The resampler and the VAD hold back a few ms, so which chunk completes
        the deciding window varies by a chunk or two.
        """
        while True:
            found = [s for s in self.seen if s.event.type == event_type]
            if len(found) >= nth:
                return found[nth - 1]
            assert limit_ms > 0, f"no {event_type} after the silence"
            limit_ms -= 20
            await self.send(silence(20))

    async def mark(self) -> None:
        """Wait until the server has handled everything sent so far."""
        self._marks += 1
        event_id = f"mark_{self._marks}"
        await self.client.send(
            {"type": "conversation.item.retrieve", "item_id": "no_such_item", "event_id": event_id}
        )
        while True:
            event = await self.client.recv()
            if event.type == "error" and event.error.event_id == event_id:
                return
            self.seen.append(Seen(event, self.sent_ms))

    async def until(self, event_type: str, *, nth: int = 1) -> Seen:
        """The ``nth`` event of ``event_type``, reading on (sending nothing) until it came."""
        while True:
            found = [s for s in self.seen if s.event.type == event_type]
            if len(found) >= nth:
                return found[nth - 1]
            self.seen.append(Seen(await self.client.recv(), self.sent_ms))

    def first(self, event_type: str) -> Seen:
        return next(s for s in self.seen if s.event.type == event_type)

    def events(self, event_type: str | None = None) -> list[Any]:
        return [s.event for s in self.seen if event_type is None or s.event.type == event_type]

    def types(self) -> list[str]:
        return [s.event.type for s in self.seen]


def fields(event: Any, *names: str) -> Mapping[str, Any]:
    return {name: getattr(event, name) for name in names}
