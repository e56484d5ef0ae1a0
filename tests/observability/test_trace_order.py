"""Ordering anomalies: deltas after done, unknown responses, events after close, duplicate ids."""

from __future__ import annotations

from pathlib import Path

from trace_fixtures import Script, audio_delta, created, done, text_delta, user_item, voice_turn

from rtagents.observability.trace_analysis import trace_file


def _rules(path: Path) -> list[tuple[str, str | None]]:
    return [(a.rule, a.response_id) for a in trace_file(path).anomalies]


def test_a_clean_voice_turn_has_no_anomaly(tmp_path: Path) -> None:
    script = voice_turn(Script(tmp_path / "clean.jsonl"), 0.0, "item_1", "resp_1")
    assert _rules(script.close()) == []


def test_a_delta_after_its_response_is_done(tmp_path: Path) -> None:
    script = voice_turn(Script(tmp_path / "late.jsonl"), 0.0, "item_1", "resp_1")
    script.at(2.1).server(audio_delta("resp_1", "item_1_reply"))
    script.server({"type": "response.output_item.done", "response_id": "resp_1", "item": {}})
    trace = trace_file(script.close())
    assert [(a.rule, a.response_id) for a in trace.anomalies] == [
        ("delta_after_done", "resp_1"),
        ("event_after_done", "resp_1"),
    ]
    assert trace.failed
    assert "after response.done of resp_1" in trace.anomalies[0].message


def test_a_delta_after_its_part_is_done(tmp_path: Path) -> None:
    script = Script(tmp_path / "part.jsonl")
    script.server(created("resp_1")).server(text_delta("resp_1", "item_r"))
    script.server(
        {
            "type": "response.output_audio_transcript.done",
            "response_id": "resp_1",
            "item_id": "item_r",
            "output_index": 0,
            "content_index": 0,
            "transcript": "Hi",
        }
    )
    script.server(text_delta("resp_1", "item_r", " again"))
    script.server(text_delta("resp_1", "item_other"))  # another item's stream is still open
    script.server(done("resp_1"))
    anomalies = trace_file(script.close()).anomalies
    assert [a.rule for a in anomalies] == ["delta_after_done"]
    assert "output_audio_transcript was done" in anomalies[0].message


def test_items_and_deltas_for_a_response_never_created(tmp_path: Path) -> None:
    script = Script(tmp_path / "unknown.jsonl")
    script.server({"type": "response.output_item.added", "response_id": "resp_x", "item": {}})
    script.server(text_delta("resp_x", "item_r"))
    script.server(done("resp_x"))
    assert _rules(script.close()) == [("unknown_response", "resp_x")] * 3


def test_events_after_the_close_until_the_connection_is_open_again(tmp_path: Path) -> None:
    script = Script(tmp_path / "after_close.jsonl")
    script.server(user_item("item_1", "hi"))
    script.at(1.0).writer.connection_closed(1000, "done", "server")
    script.at(1.1).server(created("resp_1"))
    script.writer.lifecycle("reconnecting", "active", "resumed")
    script.at(1.2).server(done("resp_1"))
    trace = trace_file(script.close())
    assert [a.rule for a in trace.anomalies] == ["event_after_close"]
    assert "response.created after the close at after_close.jsonl:" in trace.anomalies[0].message


def test_an_item_id_announced_twice(tmp_path: Path) -> None:
    script = Script(tmp_path / "dup.jsonl")
    script.server(user_item("item_1", "hi")).server(user_item("item_1", "again"))
    script.server({"type": "conversation.item.deleted", "item_id": "item_1"})
    script.server(user_item("item_1", "reused after delete"))
    assert _rules(script.close()) == [("duplicate_item_id", None)]


def test_a_new_session_starts_its_own_items(tmp_path: Path) -> None:
    script = Script(tmp_path / "rebuild.jsonl")
    script.server({"type": "session.created", "session": {}}).server(user_item("item_1", "hi"))
    script.server({"type": "session.created", "session": {}}).server(user_item("item_1", "hi"))
    assert _rules(script.close()) == []


def test_frames_replayed_after_a_resume_are_not_anomalies(tmp_path: Path) -> None:
    script = Script(tmp_path / "resume.jsonl")
    frames = [
        '{"type":"response.created","response":{"id":"resp_1"}}',
        '{"type":"response.done","response":{"id":"resp_1","status":"completed"}}',
    ]
    for seq, frame in enumerate(frames, start=1):
        script.writer.event("received", frame, seq=seq)
    script.writer.event("received", frames[1], seq=2)  # the server sent it again on resume
    assert _rules(script.close()) == []


def test_frames_in_flight_after_our_own_close_are_not_anomalies(tmp_path: Path) -> None:
    script = Script(tmp_path / "own_close.jsonl", side="client")
    script.server(created("resp_1"))
    script.at(1.0).writer.connection_closed(1000, "", "client")
    script.at(1.01).server(done("resp_1"))  # sent by the server before it read our close
    script.at(1.02).client({"type": "response.create"})  # ours, after our own close
    trace = trace_file(script.close())
    assert [a.rule for a in trace.anomalies] == ["event_after_close"]
    assert trace.anomalies[0].message.startswith("response.create after the close")
