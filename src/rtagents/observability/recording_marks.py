"""Latency marks read off the events a recorder sees, at the moment it sees them.

Both sides see the same events, so the client and the server recordings mark
the same moments, each on its own clock: the end of the user's speech, the
final transcript, the first text and first audio of a response, and its end.
What no event shows (the server's first LLM token) the server adds itself.
"""

from __future__ import annotations

from typing import Any, NamedTuple

# Responses whose first text/audio were already marked, kept until response.done;
# bounded so a peer that never ends its responses cannot grow it.
_OPEN_RESPONSES = 256
_TEXT_DELTAS = frozenset({"response.output_text.delta", "response.output_audio_transcript.delta"})
MARKING = _TEXT_DELTAS | {
    "response.output_audio.delta",
    "input_audio_buffer.speech_stopped",
    "conversation.item.input_audio_transcription.completed",
    "response.done",
}
"""The event types that can make a mark (a cheap test before :meth:`LiveMarks.see`)."""


class Mark(NamedTuple):
    name: str
    response_id: str | None = None
    item_id: str | None = None


class LiveMarks:
    """Turns a stream of events into :class:`Mark`\\ s (at most one per name and response)."""

    def __init__(self) -> None:
        self._text: set[str] = set()
        self._audio: set[str] = set()

    def see(self, event_type: str | None, event: Any) -> Mark | None:
        """The mark ``event`` (a model or a dict) makes, if any."""
        if event_type == "response.output_audio.delta":
            return self.audio_delta(_field(event, "response_id"), event)
        if event_type in _TEXT_DELTAS:
            return self._first(self._text, "first_text", event)
        if event_type == "input_audio_buffer.speech_stopped":
            return Mark("speech_stopped", item_id=_field(event, "item_id"))
        if event_type == "conversation.item.input_audio_transcription.completed":
            return Mark("transcript", item_id=_field(event, "item_id"))
        if event_type == "response.done":
            response_id = _field(_field(event, "response"), "id")
            self._text.discard(response_id or "")
            self._audio.discard(response_id or "")
            return Mark("response_done", response_id=response_id)
        return None

    def audio_delta(self, response_id: str | None, event: Any) -> Mark | None:
        """:meth:`see` for an audio delta of ``response_id``: dozens a reply, all but the
        first of each response marking nothing, so that test comes first."""
        if response_id is None or response_id in self._audio:
            return None
        return self._first(self._audio, "first_audio", event)

    @staticmethod
    def _first(seen: set[str], name: str, event: Any) -> Mark | None:
        response_id = _field(event, "response_id")
        if response_id is None or response_id in seen:
            return None
        if len(seen) >= _OPEN_RESPONSES:
            seen.clear()
        seen.add(response_id)
        return Mark(name, response_id=response_id, item_id=_field(event, "item_id"))


def _field(event: Any, name: str) -> Any:
    if isinstance(event, dict):
        return event.get(name)
    return getattr(event, name, None)
