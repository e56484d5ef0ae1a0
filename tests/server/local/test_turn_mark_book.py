"""MarkBook's bounds and its end: what it holds while stages are awaited, and the session's close.

The events are the server's own wire models (built as the pipeline builds
them); a call that never plays its audio is what makes records wait. The log
line itself is checked on real servers in test_turn_marks.py.
"""

from __future__ import annotations

import time
from typing import Any

from openai.types.realtime import (
    InputAudioBufferCommittedEvent,
    ResponseAudioTranscriptDeltaEvent,
    ResponseCreatedEvent,
    ResponseDoneEvent,
)
from pydantic import BaseModel

from rtagents.server.host.wire_events import build
from rtagents.server.local.item_builders import assistant_message, assistant_part
from rtagents.server.local.turn_mark_book import TURNS_OPEN, WAITING_MAX, MarkBook
from rtagents.server.local.turn_marks import TurnMarks


def resource(response_id: str, status: str, spoken: str = "") -> dict[str, Any]:
    output = []
    if status != "in_progress":
        message = assistant_message(f"item_{response_id}", status="completed")
        message["content"] = [assistant_part(audio=True, text=spoken)]
        output.append(message)
    return {
        "id": response_id,
        "object": "realtime.response",
        "status": status,
        "output": output,
        "output_modalities": ["audio"],
    }


def a_call(reported: list[TurnMarks]) -> MarkBook:
    return MarkBook(
        "sess_1",
        first_token=lambda response_id: time.perf_counter(),  # the run's first LLM chunk
        transport=lambda: "webrtc",
        transcription_on=lambda: True,
        report=reported.append,
    )


def send(book: MarkBook, event: BaseModel) -> None:
    book.on_sent(getattr(event, "type", None), event)


def spoken_reply_never_played(book: MarkBook, response_id: str) -> None:
    send(book, build(ResponseCreatedEvent, response=resource(response_id, "in_progress")))
    send(
        book,
        build(
            ResponseAudioTranscriptDeltaEvent,
            response_id=response_id,
            item_id=f"item_{response_id}",
            output_index=0,
            content_index=0,
            delta="Hi.",
        ),
    )
    send(book, build(ResponseDoneEvent, response=resource(response_id, "completed", "Hi.")))


def test_replies_awaiting_playback_are_bounded_and_the_oldest_is_logged() -> None:
    reported: list[TurnMarks] = []
    book = a_call(reported)
    for n in range(WAITING_MAX + 4):
        spoken_reply_never_played(book, f"resp_{n}")
    assert len(book._waiting) == WAITING_MAX
    assert [m.response_id for m in book.kept] == [f"resp_{n}" for n in range(4)]
    assert reported == list(book.kept)
    oldest = book.kept[0]
    assert oldest.first_text_at is not None and oldest.first_audio_at is None
    assert oldest.absent["first_audio"] == f"not seen before {WAITING_MAX} later responses ended"


def test_the_sessions_end_logs_what_waits_and_what_is_open() -> None:
    reported: list[TurnMarks] = []
    book = a_call(reported)
    spoken_reply_never_played(book, "resp_waiting")
    send(book, build(ResponseCreatedEvent, response=resource("resp_open", "in_progress")))
    book.close()
    waiting, still_open = book.kept
    assert waiting.absent == {
        "transcript_final": "no voice turn: the client asked for this response",
        "first_audio": "the session ended first",
    }
    assert still_open.status is None and still_open.transport == "webrtc"
    assert set(still_open.absent) == {
        "transcript_final",
        "first_token",
        "first_text",
        "first_audio",
        "done",
    }
    assert reported == [waiting]  # an unfinished response is logged, not measured
    assert not book.open and not book._waiting


def test_unanswered_turns_are_bounded() -> None:
    book = a_call([])
    for n in range(TURNS_OPEN + 5):
        send(
            book, build(InputAudioBufferCommittedEvent, item_id=f"item_{n}", previous_item_id=None)
        )
    assert list(book._turns) == [f"item_{n}" for n in range(5, TURNS_OPEN + 5)]
    # A response.create after them answers the latest (push to talk).
    send(book, build(ResponseCreatedEvent, response=resource("resp_1", "in_progress")))
    assert book.open["resp_1"].item_id == f"item_{TURNS_OPEN + 4}"
    assert book.open["resp_1"].turn == "manual"
