"""Factories for GA server events, built with the ``openai`` models' constructors.

Exposed as the ``server_events`` fixture, and importable as ``protocol_events``
where a fixture cannot reach (hypothesis tests). The module name is unique
across ``tests/`` because test folders are not packages. Every event gets a
fresh ``event_id`` unless one is given, so a test replays an event simply by
applying the same object twice.
"""

from __future__ import annotations

import itertools
from typing import Any

from openai.types import realtime as rt
from openai.types.realtime import realtime_conversation_item_assistant_message as assistant
from openai.types.realtime import realtime_conversation_item_user_message as user

from rtagents.protocol.audio import b64encode_audio


class ServerEvents:
    """Builds server events; ``r`` is the default response id."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def _id(self, event_id: str | None) -> str:
        return event_id or f"event_{next(self._ids)}"

    # items
    def assistant(
        self, item_id: str, *, text: str | None = None, status: str = "in_progress"
    ) -> Any:
        content = [] if text is None else [assistant.Content(type="output_text", text=text)]
        return rt.RealtimeConversationItemAssistantMessage(
            id=item_id, type="message", role="assistant", content=content, status=status
        )

    def user(self, item_id: str, *, text: str | None = None, audio: bool = False) -> Any:
        content = []
        if text is not None:
            content.append(user.Content(type="input_text", text=text))
        if audio:
            content.append(user.Content(type="input_audio"))
        return rt.RealtimeConversationItemUserMessage(
            id=item_id, type="message", role="user", content=content
        )

    def call(self, item_id: str, *, name: str = "lookup", arguments: str = "") -> Any:
        return rt.RealtimeConversationItemFunctionCall(
            id=item_id,
            type="function_call",
            call_id=f"call_{item_id}",
            name=name,
            arguments=arguments,
        )

    # conversation.item.*
    def added(self, item: Any, previous: str | None = None, event_id: str | None = None) -> Any:
        return rt.ConversationItemAdded(
            type="conversation.item.added",
            event_id=self._id(event_id),
            item=item,
            previous_item_id=previous,
        )

    def done(self, item: Any, previous: str | None = None) -> Any:
        return rt.ConversationItemDone(
            type="conversation.item.done",
            event_id=self._id(None),
            item=item,
            previous_item_id=previous,
        )

    def created(self, item: Any, previous: str | None = None) -> Any:
        return rt.ConversationItemCreatedEvent(
            type="conversation.item.created",
            event_id=self._id(None),
            item=item,
            previous_item_id=previous,
        )

    def deleted(self, item_id: str) -> Any:
        return rt.ConversationItemDeletedEvent(
            type="conversation.item.deleted", event_id=self._id(None), item_id=item_id
        )

    def truncated(self, item_id: str, audio_end_ms: int, content_index: int = 0) -> Any:
        return rt.ConversationItemTruncatedEvent(
            type="conversation.item.truncated",
            event_id=self._id(None),
            item_id=item_id,
            content_index=content_index,
            audio_end_ms=audio_end_ms,
        )

    # input transcription
    def input_delta(self, item_id: str, delta: str, content_index: int | None = 0) -> Any:
        return rt.ConversationItemInputAudioTranscriptionDeltaEvent(
            type="conversation.item.input_audio_transcription.delta",
            event_id=self._id(None),
            item_id=item_id,
            content_index=content_index,
            delta=delta,
        )

    def input_completed(self, item_id: str, transcript: str, content_index: int = 0) -> Any:
        return rt.ConversationItemInputAudioTranscriptionCompletedEvent(
            type="conversation.item.input_audio_transcription.completed",
            event_id=self._id(None),
            item_id=item_id,
            content_index=content_index,
            transcript=transcript,
            usage={"type": "duration", "seconds": 1.0},
        )

    def input_failed(self, item_id: str, message: str | None = "no speech") -> Any:
        return rt.ConversationItemInputAudioTranscriptionFailedEvent(
            type="conversation.item.input_audio_transcription.failed",
            event_id=self._id(None),
            item_id=item_id,
            content_index=0,
            error={"code": "stt_failed", "message": message},
        )

    # responses
    def response_created(self, response_id: str = "r", **response: Any) -> Any:
        return rt.ResponseCreatedEvent(
            type="response.created",
            event_id=self._id(None),
            response=rt.RealtimeResponse(id=response_id, status="in_progress", **response),
        )

    def response_done(
        self, response_id: str = "r", status: str = "completed", **response: Any
    ) -> Any:
        return rt.ResponseDoneEvent(
            type="response.done",
            event_id=self._id(None),
            response=rt.RealtimeResponse(id=response_id, status=status, **response),
        )

    def output_item_added(self, item: Any, response_id: str = "r") -> Any:
        return rt.ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            event_id=self._id(None),
            item=item,
            output_index=0,
            response_id=response_id,
        )

    def output_item_done(self, item: Any, response_id: str = "r") -> Any:
        return rt.ResponseOutputItemDoneEvent(
            type="response.output_item.done",
            event_id=self._id(None),
            item=item,
            output_index=0,
            response_id=response_id,
        )

    def part_added(self, item_id: str, part_type: str, index: int = 0, **part: Any) -> Any:
        return rt.ResponseContentPartAddedEvent(
            type="response.content_part.added",
            event_id=self._id(None),
            item_id=item_id,
            output_index=0,
            content_index=index,
            response_id="r",
            part={"type": part_type, **part},
        )

    def part_done(self, item_id: str, part_type: str, index: int = 0, **part: Any) -> Any:
        return rt.ResponseContentPartDoneEvent(
            type="response.content_part.done",
            event_id=self._id(None),
            item_id=item_id,
            output_index=0,
            content_index=index,
            response_id="r",
            part={"type": part_type, **part},
        )

    def _stream(self, cls: Any, etype: str, item_id: str, index: int, **fields: Any) -> Any:
        return cls(
            type=etype,
            event_id=self._id(fields.pop("event_id", None)),
            item_id=item_id,
            output_index=0,
            content_index=index,
            response_id="r",
            **fields,
        )

    def text_delta(
        self, item_id: str, delta: str, index: int = 0, event_id: str | None = None
    ) -> Any:
        return self._stream(
            rt.ResponseTextDeltaEvent,
            "response.output_text.delta",
            item_id,
            index,
            delta=delta,
            event_id=event_id,
        )

    def text_done(self, item_id: str, text: str, index: int = 0) -> Any:
        return self._stream(
            rt.ResponseTextDoneEvent, "response.output_text.done", item_id, index, text=text
        )

    def transcript_delta(self, item_id: str, delta: str, index: int = 0) -> Any:
        return self._stream(
            rt.ResponseAudioTranscriptDeltaEvent,
            "response.output_audio_transcript.delta",
            item_id,
            index,
            delta=delta,
        )

    def transcript_done(self, item_id: str, transcript: str, index: int = 0) -> Any:
        return self._stream(
            rt.ResponseAudioTranscriptDoneEvent,
            "response.output_audio_transcript.done",
            item_id,
            index,
            transcript=transcript,
        )

    def audio_delta(self, item_id: str, nbytes: int, index: int = 0) -> Any:
        return self._stream(
            rt.ResponseAudioDeltaEvent,
            "response.output_audio.delta",
            item_id,
            index,
            delta=b64encode_audio(b"\x01" * nbytes),
        )

    def audio_done(self, item_id: str, index: int = 0) -> Any:
        return self._stream(rt.ResponseAudioDoneEvent, "response.output_audio.done", item_id, index)

    def args_delta(self, item_id: str, delta: str) -> Any:
        return rt.ResponseFunctionCallArgumentsDeltaEvent(
            type="response.function_call_arguments.delta",
            event_id=self._id(None),
            item_id=item_id,
            output_index=0,
            response_id="r",
            call_id=f"call_{item_id}",
            delta=delta,
        )

    def args_done(self, item_id: str, arguments: str) -> Any:
        return rt.ResponseFunctionCallArgumentsDoneEvent(
            type="response.function_call_arguments.done",
            event_id=self._id(None),
            item_id=item_id,
            output_index=0,
            response_id="r",
            call_id=f"call_{item_id}",
            name="lookup",
            arguments=arguments,
        )

    # session
    def session_updated(self, fmt: dict[str, Any] | None, *, created: bool = False) -> Any:
        audio = {} if fmt is None else {"output": {"format": fmt}}
        cls = rt.SessionCreatedEvent if created else rt.SessionUpdatedEvent
        return cls(
            type="session.created" if created else "session.updated",
            event_id=self._id(None),
            session={"type": "realtime", "audio": audio},
        )
