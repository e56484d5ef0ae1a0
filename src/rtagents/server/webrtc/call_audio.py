"""A WebRTC call's output audio: the response's speech on a track, not in events.

On a call the model's audio goes to the outbound Opus track instead of
``response.output_audio.delta`` events (as on the hosted API): the backend
hands :class:`CallAudio` (its :class:`~..host.backend.PcmSink`) the PCM at the
engine's rate before any wire event is built, and notes on the conversation
how much it produced (``Conversation.note_audio``), so
``conversation.item.truncate`` is bounded as on a WebSocket. The server — not
the client — knows what was played: the track counts it, 20 ms frame by 20 ms
frame. So :class:`CallAudio`, also an observer of the host, sends
``output_audio_buffer.started`` when a response's audio starts playing,
``.stopped`` when it has all been played after ``response.done``, and on a
barge-in (speech while audio plays, or the client's
``output_audio_buffer.clear``) drops the rest, sends ``.cleared`` and
truncates the assistant item exactly where playback stopped.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openai.types.realtime import ConversationItemTruncatedEvent
from openai.types.realtime.realtime_server_event import (
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
)
from pydantic import BaseModel

from ...protocol.audio import PCM_RATE
from ...protocol.bounded import RecentDict
from ...protocol.errors import RealtimeError
from ...protocol.resample import StreamResampler
from ...transports.webrtc_audio import PacedAudioTrack
from ..host.wire_events import build

if TYPE_CHECKING:
    from ..host.backend import HostPort, ReceivedEvent

# Items whose audio is being resampled to the track's rate at once (an engine
# not at PCM_RATE); one per item in flight, so a few suffice.
RESAMPLED_ITEMS = 16


@dataclass(frozen=True, slots=True)
class Tag:
    """Whose audio a chunk on the track is."""

    response_id: str
    item_id: str


class CallAudio:
    """The call's :class:`~..host.backend.PcmSink` and playback observer, over one track."""

    def __init__(self, host: HostPort, track: PacedAudioTrack) -> None:
        self.host = host
        self.track = track
        track.listener = self
        self._items: dict[str, list[str]] = {}  # response -> items with audio, in order
        self._started: set[str] = set()
        self._done: set[str] = set()
        self._cut: set[str] = set()  # cleared: the rest of its audio is dropped
        self._resamplers: RecentDict[Tag, StreamResampler] = RecentDict(RESAMPLED_ITEMS)
        # turn_detection.interrupt_response as the session last reported it (default on).
        self._interrupts = True

    # -- from the backend (PcmSink) -------------------------------------------------

    def play(self, pcm16: bytes, rate: int, response_id: str, item_id: str) -> None:
        """Queue ``pcm16`` at ``rate`` on the track, resampled once if the track's differs."""
        if response_id in self._cut or self.track.readyState != "live" or not pcm16:
            return
        items = self._items.setdefault(response_id, [])
        if item_id not in items:
            items.append(item_id)
        tag = Tag(response_id, item_id)
        if rate != PCM_RATE:
            resampler = self._resamplers.get(tag)
            if resampler is None or resampler.src_rate != rate:
                resampler = self._resamplers[tag] = StreamResampler(rate, PCM_RATE)
            pcm16 = resampler.process(pcm16)
        self.track.enqueue(pcm16, tag)

    async def clear(self) -> None:
        """Stop playback; ``.cleared`` per response cut, each item truncated where it stopped.

        With nothing playing (a second clear, or one after playback ended) it does
        nothing: the hosted event names the response whose audio was cut.
        """
        playing = self.track.current
        queued = self.track.clear()
        tags = ([playing] if isinstance(playing, Tag) else []) + [
            tag for tag in queued if isinstance(tag, Tag)
        ]
        responses = list(dict.fromkeys(tag.response_id for tag in tags))
        # Nothing playing or queued: nothing was cleared, so no ``.cleared`` (its
        # response_id names the response whose audio was cut, and none was).
        for response_id in responses:
            self._cut.add(response_id)
            await self.host.emit(build(OutputAudioBufferCleared, response_id=response_id))
            for item_id in self._items.get(response_id, []):
                await self._truncate(Tag(response_id, item_id))
            self._forget(response_id)

    # -- from the host (Observer) ---------------------------------------------------

    def on_sent(self, event: BaseModel, error: RealtimeError | None) -> None:
        kind = getattr(event, "type", None)
        if kind == "response.done":
            self._response_done(event.response.id)  # type: ignore[attr-defined]
        elif kind == "input_audio_buffer.speech_started" and self._interrupts:
            if self.track.current is not None or self.track.queued_ms > 0:
                self.host.spawn(self.clear(), "barge-in")
        elif kind in ("session.created", "session.updated"):
            self._interrupts = _interrupts(getattr(event, "session", None))

    def on_received(self, inbound: ReceivedEvent) -> None:
        """Client events change nothing here: what they cause is emitted, and seen then."""

    def _response_done(self, response_id: str) -> None:
        for item_id in self._items.get(response_id, []):  # the resamplers' last samples
            resampler = self._resamplers.pop(Tag(response_id, item_id), None)
            if resampler is not None and response_id not in self._cut:
                self.track.enqueue(resampler.flush(), Tag(response_id, item_id))
        self._cut.discard(response_id)  # no more audio can come for it
        if response_id not in self._items:
            return  # no audio: nothing to report
        self._done.add(response_id)
        if response_id in self._started and not self._still_playing(response_id):
            self._stopped(response_id)

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

    def _forget(self, response_id: str) -> None:
        """Drop a cleared response's bookkeeping, so a long call's barge-ins don't pile up.

        It stays in ``_cut`` (its late audio is dropped) until its ``response.done``.
        """
        if response_id in self._done:
            self._cut.discard(response_id)
        for item_id in self._items.pop(response_id, []):
            self._resamplers.pop(Tag(response_id, item_id), None)
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


def _interrupts(session: Any) -> bool:
    """Whether speech cuts playback (``turn_detection.interrupt_response``, default on)."""
    audio = getattr(session, "audio", None)
    detection = getattr(getattr(audio, "input", None), "turn_detection", None)
    interrupt = getattr(detection, "interrupt_response", None)
    return interrupt is not False
