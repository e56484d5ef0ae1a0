"""The output items of one response, and the events that stream them.

A :class:`MessageWriter` streams one assistant message: text deltas, or for
audio the transcript and the speech in step (each clause's transcript delta
is followed by its audio deltas, in the output format; a reply cut mid-clause
keeps only the words its audio spoke, see :mod:`.spoken_text`). A
:class:`FunctionCallWriter` streams one function call's arguments. Both end
with the ``…done`` events and know the final item that ``response.done``
lists. Items reach the conversation only for ``conversation: "auto"``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from openai.types.realtime import (
    ConversationItemAdded,
    ConversationItemDone,
    ResponseAudioDeltaEvent,
    ResponseAudioDoneEvent,
    ResponseAudioTranscriptDeltaEvent,
    ResponseAudioTranscriptDoneEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)
from pydantic import BaseModel

from ...engines.stage import Stage, engine_stage
from ...protocol.audio import b64encode_audio, pcm16_to_wire
from .. import ids
from ..host.wire_events import build
from .item_builders import assistant_message, assistant_part, function_call_item, response_part
from .spoken_text import SpokenText

if TYPE_CHECKING:
    from ..host.backend import PcmSink
    from .audio_out import AudioOut
    from .prepared_reply import PreparedReply
    from .response_plan import ResponsePlan
    from .session_context import SessionContext

# Speech is synthesised per clause: long enough to sound natural, short
# enough that audio starts before the model has finished writing.
CLAUSE_ENDS = frozenset(".!?;:,\n")
MAX_CLAUSE_CHARS = 48
# A message's first speech is what the caller waits for, and Piper's time grows
# with the text (a 6-word clause ~2x three words), so it goes out once this many
# words are complete (a word is complete when the next one has begun), unless a
# clause ends sooner. The join costs a slight prosodic break after those words.
FIRST_SPEECH_WORDS = 3
_FIRST_WORDS = re.compile(rf"\s*(?:\S+\s+){{{FIRST_SPEECH_WORDS - 1}}}\S+(?=\s+\S)")


def speech_cut(pending: str, *, first: bool) -> int:
    """How much of ``pending`` (text not spoken yet) to speak now; 0 waits for more.

    A clause end or ``MAX_CLAUSE_CHARS`` speaks all of it; the ``first`` speech
    of a message speaks its first ``FIRST_SPEECH_WORDS`` words as soon as they
    are complete and keeps the rest pending. The speculative reply cuts its
    held clause with this same rule, so the writer asks for exactly that text.
    """
    stripped = pending.rstrip()
    if not stripped:
        return 0
    if stripped[-1] in CLAUSE_ENDS or len(pending) >= MAX_CLAUSE_CHARS:
        return len(pending)
    words = _FIRST_WORDS.match(pending) if first else None
    return words.end() if words is not None else 0


DELTA_MS = 200  # audio per output_audio.delta


class ResponseView(Protocol):
    """What a writer reads of the response it belongs to (a :class:`ResponseRun`)."""

    @property
    def id(self) -> str: ...

    @property
    def ctx(self) -> SessionContext: ...

    @property
    def plan(self) -> ResponsePlan: ...

    @property
    def audio_out(self) -> AudioOut: ...

    @property
    def held(self) -> PreparedReply | None: ...


class _Writer:
    def __init__(self, run: ResponseView, output_index: int) -> None:
        self.run = run
        self.ctx = run.ctx
        self.output_index = output_index
        self.item_id = ids.item_id()
        self.closed = False
        self.status = "in_progress"
        # Where every event of this item points; built once, not per delta.
        self.where: dict[str, Any] = {
            "response_id": run.id,
            "item_id": self.item_id,
            "output_index": output_index,
        }

    def item(self, status: str) -> dict[str, Any]:
        raise NotImplementedError

    async def _announce(self) -> None:
        item = self.item("in_progress")

        def events() -> list[BaseModel]:
            # Read before output_item.added is applied: it places the item too.
            previous = self.ctx.conversation.last_item_id
            added = build(
                ResponseOutputItemAddedEvent,
                response_id=self.run.id,
                output_index=self.output_index,
                item=item,
            )
            if self.run.plan.conversation != "auto":
                return [added]
            return [added, build(ConversationItemAdded, previous_item_id=previous, item=item)]

        await self.ctx.emit_all(events)

    async def _finish_item(self, status: str) -> None:
        self.closed = True
        self.status = status
        item = self.item(status)
        await self.ctx.emit(
            build(
                ResponseOutputItemDoneEvent,
                response_id=self.run.id,
                output_index=self.output_index,
                item=item,
            )
        )
        if self.run.plan.conversation == "auto" and self.item_id in self.ctx.conversation:
            previous = self.ctx.conversation.previous_item_id(self.item_id)
            await self.ctx.emit(build(ConversationItemDone, previous_item_id=previous, item=item))


class MessageWriter(_Writer):
    """One assistant message: text, or audio with its transcript."""

    def __init__(self, run: ResponseView, output_index: int) -> None:
        super().__init__(run, output_index)
        self.audio = run.plan.audio
        self.text = ""  # what the client has been sent (and, for audio, heard)
        self._pending = ""  # text waiting to be spoken
        self._spoken = SpokenText(speed=run.plan.speed)

    @property
    def audio_ms(self) -> float:
        """Audio produced for this message, heard or not (output audio tokens)."""
        return self._spoken.produced_ms

    def item(self, status: str) -> dict[str, Any]:
        data = assistant_message(self.item_id, status=status)
        if status != "in_progress":
            data["content"] = [assistant_part(audio=self.audio, text=self.text)]
        return data

    async def open(self) -> None:
        await self._announce()
        await self.ctx.emit(
            build(
                ResponseContentPartAddedEvent,
                **self.where,
                content_index=0,
                part=response_part(audio=self.audio, text=""),
            )
        )

    async def add(self, delta: str) -> None:
        if not self.audio:
            self.text += delta
            await self.ctx.emit(
                build(ResponseTextDeltaEvent, **self.where, content_index=0, delta=delta)
            )
            return
        self._pending += delta
        cut = speech_cut(self._pending, first=not self.text)
        if cut:
            text, self._pending = self._pending[:cut], self._pending[cut:]
            await self._speak(text)

    async def flush(self) -> None:
        """Speak whatever text is still pending (the end of the message)."""
        text, self._pending = self._pending, ""
        if text:
            await self._speak(text)

    async def _speak(self, text: str) -> None:
        spoken = self._spoken
        # The first speech of the message is what its caller waits to hear: shared
        # engines render it before more speech of replies already playing.
        stage = Stage.SPEECH if self.text else Stage.FIRST_SPEECH
        spoken.begin_clause(text)
        self.text = spoken.text
        plan = self.run.plan
        tts = self.ctx.state.engines.tts
        held = self.run.held
        speech = held.speech(text, plan.voice, plan.speed) if held is not None else None
        stream = speech or tts.synthesize(text, voice=plan.voice, speed=plan.speed)
        try:
            await self.ctx.emit(
                build(ResponseAudioTranscriptDeltaEvent, **self.where, content_index=0, delta=text)
            )
            with engine_stage(stage):
                async for pcm16 in stream:
                    sink = self.run.audio_out.sink
                    if sink is not None:  # a WebRTC call: PCM to its track, no wire event
                        await self._play(sink, pcm16, tts.sample_rate)
                    else:
                        await self._send_audio(pcm16, tts.sample_rate)
        except BaseException:
            # Cut mid-clause (cancel, barge-in, TTS failure): the transcript
            # ends where the produced audio ends, not where the model's text did.
            spoken.cut_to_audio()
            self.text = spoken.text
            raise
        finally:
            await close_stream(stream)
        spoken.end_clause()

    async def _send_audio(self, pcm16: bytes, rate: int) -> None:
        """The audio as ``output_audio.delta`` events in the output format, DELTA_MS each."""
        fmt = self.run.plan.output_format
        wire = pcm16_to_wire(pcm16, rate, fmt)
        step = max(fmt.bytes_for_ms(DELTA_MS), 1)
        for start in range(0, len(wire), step):
            chunk = wire[start : start + step]
            self.run.audio_out.mark_produced()
            delta = build(
                ResponseAudioDeltaEvent, **self.where, content_index=0, delta=b64encode_audio(chunk)
            )
            await self.ctx.emit(delta)
            self._spoken.add_audio(fmt.duration_ms(len(chunk)))

    async def _play(self, sink: PcmSink, pcm16: bytes, rate: int) -> None:
        """The audio to the sink as PCM at the engine's rate, DELTA_MS at a time."""
        step = max(round(rate * DELTA_MS / 1000) * 2, 2)
        for start in range(0, len(pcm16), step):
            chunk = pcm16[start : start + step]
            self.run.audio_out.mark_produced()
            sink.play(chunk, rate, self.run.id, self.item_id)
            produced_ms = len(chunk) / 2 / rate * 1000
            self.ctx.conversation.note_audio(self.item_id, produced_ms)  # truncate's bound
            self._spoken.add_audio(produced_ms)
            await asyncio.sleep(0)  # synthesis may be quick: let the call's other work run

    async def close(self, status: str) -> None:
        where = {**self.where, "content_index": 0}
        if self.audio:
            await self.ctx.emit(build(ResponseAudioDoneEvent, **where))
            await self.ctx.emit(
                build(ResponseAudioTranscriptDoneEvent, **where, transcript=self.text)
            )
        else:
            await self.ctx.emit(build(ResponseTextDoneEvent, **where, text=self.text))
        part = response_part(audio=self.audio, text=self.text)
        await self.ctx.emit(build(ResponseContentPartDoneEvent, **where, part=part))
        await self._finish_item(status)


class FunctionCallWriter(_Writer):
    """One function call; its ``call_id`` is the server's, whatever the engine's was."""

    def __init__(
        self, run: ResponseView, output_index: int, engine_call_id: str, name: str
    ) -> None:
        super().__init__(run, output_index)
        self.engine_call_id = engine_call_id
        self.call_id = ids.call_id()
        self.name = name
        self.arguments = ""

    def item(self, status: str) -> dict[str, Any]:
        return function_call_item(
            self.item_id,
            call_id=self.call_id,
            name=self.name,
            arguments=self.arguments if status != "in_progress" else "",
            status=status,
        )

    async def open(self) -> None:
        await self._announce()

    async def add(self, delta: str) -> None:
        if not delta:
            return
        self.arguments += delta
        await self.ctx.emit(
            build(
                ResponseFunctionCallArgumentsDeltaEvent,
                **self.where,
                call_id=self.call_id,
                delta=delta,
            )
        )

    async def flush(self) -> None:
        return None

    async def close(self, status: str) -> None:
        if status == "completed":
            await self.ctx.emit(
                build(
                    ResponseFunctionCallArgumentsDoneEvent,
                    **self.where,
                    call_id=self.call_id,
                    name=self.name,
                    arguments=self.arguments,
                )
            )
        await self._finish_item(status)


async def close_stream(stream: AsyncIterator[Any]) -> None:
    """Close an engine's stream, if it can be (an async generator can)."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
