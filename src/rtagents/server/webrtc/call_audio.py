"""A WebRTC call's output audio: the response's speech on a track, not in events.

On a call the model's audio goes to the outbound Opus track instead of
``response.output_audio.delta`` events (as on the hosted API), and the server
— not the client — knows what was played: the track counts it, 20 ms frame
by 20 ms frame. So the server sends ``output_audio_buffer.started`` when a
response's audio starts playing, ``.stopped`` when it has all been played
after ``response.done``, and on a barge-in (speech while audio plays, or the
client's ``output_audio_buffer.clear``) drops the rest, sends ``.cleared``
and truncates the assistant item exactly where playback stopped.

The audio deltas are still applied to the server's conversation (not sent),
so ``conversation.item.truncate`` checks against the audio produced as on a
WebSocket.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from openai.types.realtime import ConversationItemTruncatedEvent
from openai.types.realtime.realtime_server_event import (
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
)
from pydantic import BaseModel

from ...protocol.audio import AudioFormat, b64_decoded_length, b64decode_audio, wire_to_pcm16
from ...transports.webrtc_audio import RATE, PacedAudioTrack
from ..host.wire_events import build

if TYPE_CHECKING:
    from ..host.session_host import SessionHost


class AudioSink(Protocol):
    """Where a host sends response audio instead of delta events (WebRTC calls)."""

    def play(self, delta: Any, fmt: AudioFormat) -> None:
        """Play one ``response.output_audio.delta`` (a model, not sent to the client)."""

    def observe(self, event: BaseModel) -> None:
        """See every event the host emits (response ends, speech starts)."""

    async def clear(self) -> None:
        """``output_audio_buffer.clear``: stop playback and truncate where it stopped."""


@dataclass(frozen=True, slots=True)
class Tag:
    """Whose audio a chunk on the track is."""

    response_id: str
    item_id: str


class CallAudio:
    """Implements :class:`AudioSink` over a :class:`PacedAudioTrack` for one host."""

    def __init__(self, host: SessionHost, track: PacedAudioTrack) -> None:
        self.host = host
        self.track = track
        track.listener = self
        self._items: dict[str, list[str]] = {}  # response -> items with audio, in order
        self._started: set[str] = set()
        self._done: set[str] = set()
        self._cut: set[str] = set()  # cleared: the rest of its audio is dropped
        self._last_response = ""

    # -- from the response writer ----------------------------------------------

    def play(self, delta: Any, fmt: AudioFormat) -> None:
        if delta.response_id in self._cut or self.track.readyState != "live":
            return
        if not b64_decoded_length(delta.delta):
            return
        self.host.conversation.apply(delta)  # produced, for truncate's bound
        self._last_response = delta.response_id
        items = self._items.setdefault(delta.response_id, [])
        if delta.item_id not in items:
            items.append(delta.item_id)
        pcm16 = wire_to_pcm16(b64decode_audio(delta.delta), fmt, RATE)
        self.track.enqueue(pcm16, Tag(delta.response_id, delta.item_id))

    # -- from the host ------------------------------------------------------------

    def observe(self, event: BaseModel) -> None:
        kind = getattr(event, "type", None)
        if kind == "response.done":
            response_id = event.response.id  # type: ignore[attr-defined]
            self._cut.discard(response_id)  # no more deltas can come for it
            if response_id not in self._items:
                return  # no audio: nothing to report
            self._done.add(response_id)
            if response_id in self._started and not self._still_playing(response_id):
                self._stopped(response_id)
        elif kind == "input_audio_buffer.speech_started" and self._interrupts():
            if self.track.current is not None or self.track.queued_ms > 0:
                self.host.spawn(self.clear(), "barge-in")

    def _interrupts(self) -> bool:
        """Whether speech cuts playback (``turn_detection.interrupt_response``, default on)."""
        audio = self.host.config.data.get("audio") or {}
        detection = (audio.get("input") or {}).get("turn_detection") or {}
        return bool(detection.get("interrupt_response", True))

    async def clear(self) -> None:
        playing = self.track.current
        queued = self.track.clear()
        tags = ([playing] if isinstance(playing, Tag) else []) + [
            tag for tag in queued if isinstance(tag, Tag)
        ]
        responses = list(dict.fromkeys(tag.response_id for tag in tags))
        if not responses:
            response_id = self._last_response
            await self.host.emit(build(OutputAudioBufferCleared, response_id=response_id))
            return
        for response_id in responses:
            self._cut.add(response_id)
            await self.host.emit(build(OutputAudioBufferCleared, response_id=response_id))
            for item_id in self._items.get(response_id, []):
                await self._truncate(Tag(response_id, item_id))
            self._forget(response_id)

    def _forget(self, response_id: str) -> None:
        """Drop a cleared response's bookkeeping, so a long call's barge-ins don't pile up.

        It stays in ``_cut`` (its late deltas are dropped) until its ``response.done``.
        """
        if response_id in self._done:
            self._cut.discard(response_id)
        self._items.pop(response_id, None)
        self._started.discard(response_id)
        self._done.discard(response_id)

    async def _truncate(self, tag: Tag) -> None:
        """Cut the item at what was played, if less than what was produced."""
        played = math.floor(self.track.played_ms(tag))
        conversation = self.host.conversation
        if tag.item_id not in conversation or conversation.truncated_ms(tag.item_id) is not None:
            return
        if played >= math.floor(conversation.audio_ms(tag.item_id)):
            return
        await self.host.emit(
            build(
                ConversationItemTruncatedEvent,
                item_id=tag.item_id,
                content_index=0,
                audio_end_ms=played,
            )
        )

    # -- from the track (PlayoutListener) -------------------------------------------

    def playing(self, tag: Hashable) -> None:
        if not isinstance(tag, Tag) or tag.response_id in self._started:
            return
        for earlier in list(self._started):
            if earlier in self._done and earlier not in self._cut:
                self._stopped(earlier)  # a new response's audio follows without a gap
        self._started.add(tag.response_id)
        self._send(build(OutputAudioBufferStarted, response_id=tag.response_id))

    def idle(self, tag: Hashable) -> None:
        if isinstance(tag, Tag) and tag.response_id in self._done:
            self._stopped(tag.response_id)

    # -- helpers -------------------------------------------------------------------

    def _still_playing(self, response_id: str) -> bool:
        tags = [self.track.current, *self.track.queued_tags()]
        return any(isinstance(tag, Tag) and tag.response_id == response_id for tag in tags)

    def _stopped(self, response_id: str) -> None:
        if response_id in self._cut:
            return
        self._started.discard(response_id)
        self._done.discard(response_id)
        self._items.pop(response_id, None)
        self._send(build(OutputAudioBufferStopped, response_id=response_id))

    def _send(self, event: BaseModel) -> None:
        """Emit from a synchronous callback; tasks start in order, so events keep theirs."""
        self.host.spawn(self.host.emit(event), "audio-event")
