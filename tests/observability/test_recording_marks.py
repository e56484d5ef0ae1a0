"""Latency marks read off events: one per name and response, bounded, dicts or models alike."""

from __future__ import annotations

from types import SimpleNamespace

from rtagents.observability.recording_marks import MARKING, LiveMarks, Mark


def test_marks_of_a_voice_turn() -> None:
    marks = LiveMarks()
    seen = [
        marks.see("input_audio_buffer.speech_stopped", {"item_id": "i1"}),
        marks.see("conversation.item.input_audio_transcription.completed", {"item_id": "i1"}),
        marks.see("response.output_audio_transcript.delta", {"response_id": "r1", "item_id": "i2"}),
        marks.see("response.output_text.delta", {"response_id": "r1"}),  # not a second first_text
        marks.see("response.output_audio.delta", SimpleNamespace(response_id="r1", item_id="i2")),
        marks.see("response.output_audio.delta", {"response_id": "r1"}),
        marks.see("response.done", {"response": {"id": "r1"}}),
        marks.see("response.output_audio.delta", {"response_id": "r1"}),  # after done: again
        marks.see("session.updated", {}),
    ]
    assert seen == [
        Mark("speech_stopped", item_id="i1"),
        Mark("transcript", item_id="i1"),
        Mark("first_text", response_id="r1", item_id="i2"),
        None,
        Mark("first_audio", response_id="r1", item_id="i2"),
        None,
        Mark("response_done", response_id="r1"),
        Mark("first_audio", response_id="r1"),
        None,
    ]
    assert "session.updated" not in MARKING and "response.done" in MARKING


def test_responses_that_never_end_do_not_grow_it() -> None:
    marks = LiveMarks()
    for n in range(10_000):
        assert marks.see("response.output_audio.delta", {"response_id": f"r{n}"}) is not None
    assert len(marks._audio) <= 256
