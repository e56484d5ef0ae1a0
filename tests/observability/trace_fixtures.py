"""Recordings written line by line for the trace tests, through the real RecordingWriter.

These are fixtures of the *parser*: the events are written by hand (in the
documented GA shapes, as rtagents' server sends them) at times the test
chooses, so waterfalls and orders can be asserted exactly. Recordings of real
sessions against a real server are in test_trace_live.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rtagents.observability.recording import RecordingWriter
from rtagents.observability.recording_format import Side


class Script:
    """A recording written at chosen times: ``at(1.5)`` then the records that happened then."""

    def __init__(self, path: Path, side: Side = "client", **header: Any) -> None:
        self.now = 0.0
        self.path = path
        self.writer = RecordingWriter(
            path,
            side=side,
            clock=lambda: self.now,
            wall_clock=lambda: 1_700_000_000.0 + self.now,
            **header,
        )
        self.side = side

    def at(self, t: float) -> Script:
        self.now = t
        return self

    def client(self, event: Mapping[str, Any]) -> Script:
        """A client event, in the direction the recording side saw it."""
        self.writer.event("sent" if self.side == "client" else "received", dict(event))
        return self

    def server(self, event: Mapping[str, Any]) -> Script:
        self.writer.event("received" if self.side == "client" else "sent", dict(event))
        return self

    def mark(self, name: str, **ids: str) -> Script:
        self.writer.mark(name, **ids)
        return self

    def close(self) -> Path:
        self.writer.close()
        return self.path


def response(response_id: str, status: str = "in_progress", **more: Any) -> dict[str, Any]:
    return {"id": response_id, "object": "realtime.response", "status": status, **more}


def created(response_id: str) -> dict[str, Any]:
    return {"type": "response.created", "response": response(response_id)}


def done(response_id: str, status: str = "completed", **more: Any) -> dict[str, Any]:
    return {"type": "response.done", "response": response(response_id, status, **more)}


def text_delta(response_id: str, item_id: str, delta: str = "Hi") -> dict[str, Any]:
    return {
        "type": "response.output_audio_transcript.delta",
        "response_id": response_id,
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
        "delta": delta,
    }


def audio_delta(response_id: str, item_id: str) -> dict[str, Any]:
    return {
        "type": "response.output_audio.delta",
        "response_id": response_id,
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
        "delta": "AAAAAA==",
    }


def user_item(item_id: str, text: str | None = None) -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}] if text else [{"type": "input_audio"}]
    return {
        "type": "conversation.item.added",
        "previous_item_id": None,
        "item": {"id": item_id, "type": "message", "role": "user", "content": content},
    }


def voice_turn(script: Script, start: float, item_id: str, response_id: str) -> Script:
    """A spoken turn as the server runs it: speech, commit, transcript, one audio response."""
    reply = f"{item_id}_reply"
    script.at(start).server(
        {"type": "input_audio_buffer.speech_started", "item_id": item_id, "audio_start_ms": 0}
    )
    script.at(start + 1.0).server(
        {"type": "input_audio_buffer.speech_stopped", "item_id": item_id, "audio_end_ms": 1000}
    )
    script.server(
        {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": None}
    )
    script.server(user_item(item_id))
    script.at(start + 1.05).server(created(response_id))
    script.at(start + 1.12).server(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": item_id,
            "content_index": 0,
            "transcript": "where is my order",
        }
    )
    script.at(start + 1.372).server(text_delta(response_id, reply))
    script.at(start + 1.41).server(audio_delta(response_id, reply))
    script.at(start + 2.0).server(done(response_id))
    return script
