"""Turning the client session's events into agent events, and into work (calls, checks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..protocol.errors import RealtimeError
from .agent_events import (
    AgentEnd,
    AgentStart,
    Audio,
    AudioEnd,
    Error,
    HistoryUpdated,
    Transcript,
)
from .session_guard import GuardrailRunner
from .session_owner import SessionOwner
from .tool_calls import CallDispatcher

log = logging.getLogger("rtagents.agents")
_HISTORY = frozenset(
    {
        "conversation.item.done",
        "conversation.item.truncated",
        "conversation.item.deleted",
        "conversation.item.input_audio_transcription.completed",
    }
)


def _str(event: object, name: str) -> str | None:
    value = getattr(event, name, None)
    return value if isinstance(value, str) else None


class EventRouter:
    """One method per event type that matters; the rest only travel as ``RawEvent``."""

    def __init__(
        self, owner: SessionOwner, calls: CallDispatcher, guardrails: GuardrailRunner
    ) -> None:
        self.owner = owner
        self.calls = calls
        self.guardrails = guardrails
        self._routes: dict[str, Callable[[Any], None]] = {
            "response.created": self._response_created,
            "response.done": self._response_done,
            "response.output_audio.delta": self._audio,
            "response.output_audio.done": self._audio_done,
            "response.output_audio_transcript.delta": self._text_delta,
            "response.output_text.delta": self._text_delta,
            "response.output_audio_transcript.done": self._text_done,
            "response.output_text.done": self._text_done,
            "conversation.item.input_audio_transcription.completed": self._user_transcript,
            "response.function_call_arguments.done": self._call,
            "input_audio_buffer.speech_started": self._barge_in,
            "output_audio_buffer.started": self._webrtc,
            "rtagents.failed": self._failed,
        }

    def route(self, event: Any) -> None:
        etype = _str(event, "type")
        if etype is None:
            return
        handler = self._routes.get(etype)
        if handler is not None:
            handler(event)
        if etype in _HISTORY:
            self.owner.emit(HistoryUpdated(history=self.owner.history))

    def on_error(self, error: RealtimeError) -> None:
        self.owner.emit(Error(error=error))

    def _response_created(self, event: Any) -> None:
        response_id = _str(event.response, "id")
        if response_id is None:
            return
        agent = self.owner.note_response(response_id)
        self.guardrails.watch.start(response_id, agent)
        self.owner.emit(AgentStart(agent=agent, response_id=response_id))

    def _response_done(self, event: Any) -> None:
        response_id = _str(event.response, "id")
        agent = self.owner.agent_of_response(response_id)
        status = _str(event.response, "status")
        self.owner.emit(AgentEnd(agent=agent, response_id=response_id, status=status))
        if response_id is not None:
            self.guardrails.response_ended(response_id)
            self.calls.response_done(response_id)

    def _audio(self, event: Any) -> None:
        self.owner.audio_produced = True
        response_id = _str(event, "response_id")
        if self.guardrails.silenced(response_id):
            return  # a stopped reply's stale audio never reaches the speaker
        self.owner.emit(
            Audio(
                data=self.owner.decode_audio(event.delta),
                item_id=event.item_id,
                response_id=response_id,
                content_index=getattr(event, "content_index", 0) or 0,
            )
        )

    def _audio_done(self, event: Any) -> None:
        self.owner.emit(AudioEnd(item_id=event.item_id, response_id=_str(event, "response_id")))

    def _text_delta(self, event: Any) -> None:
        if event.type == "response.output_audio_transcript.delta":
            self.owner.audio_produced = True  # also on WebRTC, where audio bypasses events
        response_id, item_id = _str(event, "response_id"), _str(event, "item_id")
        delta = _str(event, "delta") or ""
        if item_id is not None and not self.guardrails.silenced(response_id):
            self.owner.emit(
                Transcript(
                    item_id=item_id,
                    role="assistant",
                    text=delta,
                    final=False,
                    response_id=response_id,
                )
            )
        self.guardrails.add(response_id, item_id, delta)

    def _text_done(self, event: Any) -> None:
        item_id = _str(event, "item_id")
        text = _str(event, "transcript") or _str(event, "text") or ""
        if item_id is not None:
            self.owner.emit(
                Transcript(
                    item_id=item_id,
                    role="assistant",
                    text=text,
                    final=True,
                    response_id=_str(event, "response_id"),
                )
            )

    def _user_transcript(self, event: Any) -> None:
        item_id = _str(event, "item_id")
        if item_id is not None:
            text = _str(event, "transcript") or ""
            self.owner.emit(Transcript(item_id=item_id, role="user", text=text, final=True))

    def _call(self, event: Any) -> None:
        self.calls.start(
            _str(event, "call_id"),
            _str(event, "name") or "",
            _str(event, "arguments") or "",
            _str(event, "response_id"),
        )

    def _barge_in(self, event: Any) -> None:
        self.calls.barge_in()
        client = self.owner.client
        item_id = client.playback.current_item_id
        response_id = client.conversation.active_response_id
        if item_id is None or client.conversation.truncated_ms(item_id) is not None:
            return
        heard = client.playback.heard_ms(item_id)
        if response_id is None and not 0 < heard < int(client.conversation.audio_ms(item_id)):
            return  # nothing is playing that the user did not hear
        # The server cancels its own response on barge-in; we cut what was not heard.
        self.owner.spawn(
            self.guardrails.stop_response(response_id, item_id, reason="barge_in", cancel=False),
            "rtagents-agent-barge-in",
        )

    def _webrtc(self, event: Any) -> None:
        self.owner.webrtc = True
        self.owner.audio_produced = True

    def _failed(self, event: Any) -> None:
        error = getattr(event, "error", None)
        if isinstance(error, RealtimeError):
            self.owner.emit(Error(error=error))
