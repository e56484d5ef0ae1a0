"""Turns and responses of a recording, and each turn's latency waterfall.

A turn is the user's input and the responses that answer it. It opens on
``input_audio_buffer.speech_started`` (voice), on a commit with no speech
detected (push-to-talk), on a user message item (text), or on a response
nobody asked for (a greeting). Its anchor is the moment the user finished:
speech stopped, the commit, or the message. The waterfall measures from the
anchor to the transcript, the first LLM token, the first text, the first
audio (an audio delta, or on WebRTC ``output_audio_buffer.started``) and the
last ``response.done`` of the turn.

Stages come from the server's events as the recording side saw them; a
``mark`` record for the same stage wins, because marks are taken where the
stage happens (the first token is only known from a mark).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .trace_events import is_server_event, text
from .trace_input import Record
from .trace_model import ResponseSpan, Turn

TURNS_KEPT: Final = 10_000
_TEXT_DELTAS: Final = frozenset(
    {"response.output_text.delta", "response.output_audio_transcript.delta"}
)
_MARK_STAGES: Final = {
    "transcript": "transcript",
    "first_token": "first_token",
    "first_text": "first_text",
    "first_audio": "first_audio",
    "response_done": "done",
}


class TimelineBuilder:
    """Fed every record in order; ``turns`` holds the first TURNS_KEPT turns."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.more = 0
        self._current: Turn | None = None
        self._responses: dict[str, tuple[Turn, ResponseSpan]] = {}
        self._by_item: dict[str, Turn] = {}
        self._marks: dict[int, dict[str, float]] = {}

    def add(self, record: Record) -> None:
        if record.kind == "mark":
            self._mark(record)
        elif record.kind == "event" and is_server_event(record) and record.event is not None:
            self._event(record, record.event_type or "", record.event)

    def finish(self) -> list[Turn]:
        """The turns, with each mark laid over the stage its events gave."""
        for turn in self.turns:
            marks = self._marks.get(turn.index, {})
            if "speech_stopped" in marks:
                turn.anchor = marks.pop("speech_stopped")
            turn.stages.update(marks)
        return self.turns

    # -- events -------------------------------------------------------------------

    def _event(self, record: Record, kind: str, event: Mapping[str, Any]) -> None:
        t, turn = record.t, self._current
        if kind == "input_audio_buffer.speech_started":
            self._open("voice", t, text(event.get("item_id")))
        elif kind == "input_audio_buffer.speech_stopped":
            if turn is None or turn.responses or turn.anchor is not None:
                turn = self._open("voice", t, text(event.get("item_id")))
            if turn is not None:
                turn.anchor = t
        elif kind == "input_audio_buffer.committed":
            if turn is None or turn.responses or turn.kind not in ("voice", "push_to_talk"):
                turn = self._open("push_to_talk", t, text(event.get("item_id")))
            if turn is not None and turn.anchor is None:
                turn.anchor = t
        elif kind == "conversation.item.added":
            self._user_item(t, event.get("item"))
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._transcript(t, event)
        elif kind.startswith("response."):
            self._response_event(t, kind, event)
        elif kind == "output_audio_buffer.started":
            self._audio_started(t, text(event.get("response_id")))

    def _user_item(self, t: float, item: object) -> None:
        if not isinstance(item, Mapping) or item.get("role") != "user":
            return
        item_id, turn = text(item.get("id")), self._current
        if turn is None or turn.responses:
            turn = self._open("text", t, item_id)
            if turn is not None:
                turn.anchor = t
        elif turn.item_id is None and item_id is not None:
            turn.item_id = item_id
            self._by_item[item_id] = turn

    def _transcript(self, t: float, event: Mapping[str, Any]) -> None:
        turn = self._by_item.get(text(event.get("item_id")) or "", self._current)
        if turn is not None:
            turn.stages.setdefault("transcript", t)
            turn.transcript = text(event.get("transcript"))

    def _response_event(self, t: float, kind: str, event: Mapping[str, Any]) -> None:
        if kind in ("response.created", "response.done"):
            response = event.get("response")
            response = response if isinstance(response, Mapping) else {}
            response_id = text(response.get("id"))
        else:
            response, response_id = {}, text(event.get("response_id"))
        if response_id is None:
            return
        if kind == "response.created":
            self._created(t, response_id)
        found = self._responses.get(response_id)
        if found is None:
            return
        turn, span = found
        span.events += 1
        if kind in _TEXT_DELTAS and span.first_text is None:
            span.first_text = t
            turn.stages.setdefault("first_text", t)
        elif kind == "response.output_audio.delta" and span.first_audio is None:
            span.first_audio = t
            turn.stages.setdefault("first_audio", t)
        elif kind == "response.output_item.added":
            _tool_call(span, event.get("item"))
        elif kind == "response.done":
            span.done, span.status = t, text(response.get("status"))
            turn.stages["done"] = t

    def _audio_started(self, t: float, response_id: str | None) -> None:
        """On WebRTC the audio goes as media, not deltas: it starts playing here."""
        found = self._responses.get(response_id or "")
        if found is not None and found[1].first_audio is None:
            found[1].first_audio = t
            found[0].stages.setdefault("first_audio", t)

    def _created(self, t: float, response_id: str) -> None:
        turn = self._current
        if turn is None:
            turn = self._open("response_only", t, None)
            if turn is not None:
                turn.anchor = t
        if turn is not None and len(self._responses) < TURNS_KEPT * 4:
            span = ResponseSpan(response_id=response_id, created=t)
            turn.responses.append(span)
            self._responses[response_id] = (turn, span)

    # -- marks --------------------------------------------------------------------

    def _mark(self, record: Record) -> None:
        name = text(record.data.get("name"))
        turn = self._turn_of(record.data)
        if name is None or turn is None:
            return
        stage = "speech_stopped" if name == "speech_stopped" else _MARK_STAGES.get(name)
        if stage is None:
            return
        marks = self._marks.setdefault(turn.index, {})
        if stage == "done":
            marks[stage] = record.t  # the turn is done when its last response is
        else:
            marks.setdefault(stage, record.t)

    def _turn_of(self, data: Mapping[str, Any]) -> Turn | None:
        found = self._responses.get(text(data.get("response_id")) or "")
        if found is not None:
            return found[0]
        return self._by_item.get(text(data.get("item_id")) or "", self._current)

    def _open(self, kind: str, t: float, item_id: str | None) -> Turn | None:
        if len(self.turns) >= TURNS_KEPT:
            self.more += 1
            self._current = None
            return None
        turn = Turn(index=len(self.turns) + 1, kind=kind, start=t, item_id=item_id)
        self.turns.append(turn)
        self._current = turn
        if item_id is not None:
            self._by_item[item_id] = turn
        return turn


def _tool_call(span: ResponseSpan, item: object) -> None:
    if isinstance(item, Mapping) and item.get("type") == "function_call":
        span.tool_calls.append(text(item.get("name")) or "?")
