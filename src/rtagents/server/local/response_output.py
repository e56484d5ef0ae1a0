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
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

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

from ..protocol.audio import b64encode_audio, pcm16_to_wire
from . import ids
from .items import assistant_message, assistant_part, build, function_call_item, response_part
from .spoken_text import SpokenText

if TYPE_CHECKING:
    from .responses import ResponseRun

# Speech is synthesised per clause: long enough to sound natural, short
# enough that audio starts before the model has finished writing.
CLAUSE_ENDS = frozenset(".!?;:,\n")
MAX_CLAUSE_CHARS = 48
DELTA_MS = 200  # audio per output_audio.delta


class _Writer:
    def __init__(self, run: ResponseRun, output_index: int) -> None:
        self.run = run
        self.host = run.host
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
            previous = self.host.conversation.last_item_id
            added = build(
                ResponseOutputItemAddedEvent,
                response_id=self.run.id,
                output_index=self.output_index,
                item=item,
            )
            if self.run.plan.conversation != "auto":
                return [added]
            return [added, build(ConversationItemAdded, previous_item_id=previous, item=item)]

        await self.host.emit_all(events)

    async def _finish_item(self, status: str) -> None:
        self.closed = True
        self.status = status
        item = self.item(status)
        await self.host.emit(
            build(
                ResponseOutputItemDoneEvent,
                response_id=self.run.id,
                output_index=self.output_index,
                item=item,
            )
        )
        if self.run.plan.conversation == "auto" and self.item_id in self.host.conversation:
            previous = self.host.conversation.previous_item_id(self.item_id)
            await self.host.emit(build(ConversationItemDone, previous_item_id=previous, item=item))


class MessageWriter(_Writer):
    """One assistant message: text, or audio with its transcript."""

    def __init__(self, run: ResponseRun, output_index: int) -> None:
        super().__init__(run, output_index)
        self.audio = run.plan.audio
        self.text = ""  # what the client has been sent (and, for audio, heard)
        self._pending = ""  # text waiting to be spoken
        self._spoken = SpokenText(speed=run.plan.speed)

    def item(self, status: str) -> dict[str, Any]:
        data = assistant_message(self.item_id, status=status)
        if status != "in_progress":
            data["content"] = [assistant_part(audio=self.audio, text=self.text)]
        return data

    async def open(self) -> None:
        await self._announce()
        await self.host.emit(
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
            await self.host.emit(
                build(ResponseTextDeltaEvent, **self.where, content_index=0, delta=delta)
            )
            return
        self._pending += delta
        stripped = self._pending.rstrip()
        if stripped and (stripped[-1] in CLAUSE_ENDS or len(self._pending) >= MAX_CLAUSE_CHARS):
            await self.flush()

    async def flush(self) -> None:
        """Speak whatever text is still pending (the end of the message)."""
        text, self._pending = self._pending, ""
        if text:
            await self._speak(text)

    async def _speak(self, text: str) -> None:
        spoken = self._spoken
        spoken.begin_clause(text)
        self.text = spoken.text
        plan = self.run.plan
        tts = self.host.state.engines.tts
        stream = tts.synthesize(text, voice=plan.voice, speed=plan.speed)
        step = max(plan.output_format.bytes_for_ms(DELTA_MS), 1)
        try:
            await self.host.emit(
                build(ResponseAudioTranscriptDeltaEvent, **self.where, content_index=0, delta=text)
            )
            async for pcm16 in stream:
                wire = pcm16_to_wire(pcm16, tts.sample_rate, plan.output_format)
                for start in range(0, len(wire), step):
                    chunk = wire[start : start + step]
                    await self._send_audio(chunk)
                    spoken.add_audio(plan.output_format.duration_ms(len(chunk)))
        except BaseException:
            # Cut mid-clause (cancel, barge-in, TTS failure): the transcript
            # ends where the produced audio ends, not where the model's text did.
            spoken.cut_to_audio()
            self.text = spoken.text
            raise
        finally:
            await close_stream(stream)
        spoken.end_clause()

    async def _send_audio(self, chunk: bytes) -> None:
        self.host.audio_produced = True  # from now on the voice is fixed
        delta = build(
            ResponseAudioDeltaEvent,
            **self.where,
            content_index=0,
            delta=b64encode_audio(chunk),
        )
        sink = self.host.audio_sink
        if sink is not None:  # a WebRTC call: the audio goes to its track, not the wire
            sink.play(delta, self.run.plan.output_format)
            await asyncio.sleep(0)  # synthesis may be quick: let the call's other work run
            return
        await self.host.emit(delta)

    async def close(self, status: str) -> None:
        where = {**self.where, "content_index": 0}
        if self.audio:
            await self.host.emit(build(ResponseAudioDoneEvent, **where))
            await self.host.emit(
                build(ResponseAudioTranscriptDoneEvent, **where, transcript=self.text)
            )
        else:
            await self.host.emit(build(ResponseTextDoneEvent, **where, text=self.text))
        part = response_part(audio=self.audio, text=self.text)
        await self.host.emit(build(ResponseContentPartDoneEvent, **where, part=part))
        await self._finish_item(status)


class FunctionCallWriter(_Writer):
    """One function call; its ``call_id`` is the server's, whatever the engine's was."""

    def __init__(self, run: ResponseRun, output_index: int, engine_call_id: str, name: str) -> None:
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
        await self.host.emit(
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
            await self.host.emit(
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
