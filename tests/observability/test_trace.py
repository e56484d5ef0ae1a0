"""The trace analysis on written recordings: classification, rules, next steps, waterfall."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trace_fixtures import Script, created, done, text_delta, user_item, voice_turn

from rtagents.observability.recording_format import RecordingError
from rtagents.observability.trace_analysis import FailureFinding, Trace, trace_file
from rtagents.observability.trace_text import render_text


def _only(trace: Trace) -> FailureFinding:
    assert len(trace.findings) == 1, trace.findings
    return trace.findings[0]


def test_a_voice_turn_gets_its_waterfall_from_events_and_the_first_token_from_a_mark(
    tmp_path: Path,
) -> None:
    script = voice_turn(Script(tmp_path / "voice.jsonl"), 0.5, "item_u1", "resp_1")
    script.at(1.7).mark("first_token", response_id="resp_1")
    trace = trace_file(script.close())

    assert not trace.failed
    [turn] = trace.turns
    assert (turn.kind, turn.item_id, turn.transcript) == ("voice", "item_u1", "where is my order")
    assert turn.waterfall() == {
        "transcript": 120.0,
        "first_token": 200.0,
        "first_text": 372.0,
        "first_audio": 410.0,
        "done": 1000.0,
    }
    [span] = turn.responses
    assert (span.response_id, span.status) == ("resp_1", "completed")
    assert "speech stopped → transcript 120 ms → first token 200 ms" in render_text(trace)


def test_marks_win_over_events_for_the_same_stage(tmp_path: Path) -> None:
    script = voice_turn(Script(tmp_path / "marks.jsonl", side="server"), 0.0, "item_u1", "resp_1")
    script.at(1.3).mark("first_audio", response_id="resp_1")  # where the audio really left
    script.at(0.99).mark("speech_stopped", item_id="item_u1")
    trace = trace_file(script.close())
    [turn] = trace.turns
    assert turn.anchor == pytest.approx(0.99)
    assert turn.waterfall()["first_audio"] == pytest.approx(310.0)


def test_turns_of_every_kind_split_where_the_user_speaks_pushes_or_types(tmp_path: Path) -> None:
    script = Script(tmp_path / "kinds.jsonl")
    script.at(0.0).server(created("resp_greet")).at(0.4).server(done("resp_greet"))
    voice_turn(script, 1.0, "item_v", "resp_v")
    script.at(4.0).server({"type": "input_audio_buffer.committed", "item_id": "item_p"})
    script.server(user_item("item_p")).at(4.2).server(created("resp_p")).at(4.6).server(
        done("resp_p")
    )
    script.at(5.0).server(user_item("item_t", "hello")).at(5.1).server(created("resp_t"))
    script.at(5.3).server(text_delta("resp_t", "item_r")).at(5.5).server(done("resp_t"))
    trace = trace_file(script.close())
    kinds = [(turn.kind, [r.response_id for r in turn.responses]) for turn in trace.turns]
    assert kinds == [
        ("response_only", ["resp_greet"]),
        ("voice", ["resp_v"]),
        ("push_to_talk", ["resp_p"]),
        ("text", ["resp_t"]),
    ]
    assert trace.turns[2].waterfall()["done"] == pytest.approx(600.0)
    assert trace.turns[3].waterfall()["first_text"] == pytest.approx(300.0)


def test_protocol_refusal_names_the_server_rule_and_the_next_step(tmp_path: Path) -> None:
    script = Script(tmp_path / "protocol.jsonl")
    script.at(0.1).client({"type": "response.create", "event_id": "evt_1"})
    script.at(0.2).server(created("resp_1"))
    script.at(0.3).client({"type": "response.create", "event_id": "evt_2"})
    script.at(0.31).server(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "conversation_already_has_active_response",
                "message": "Conversation already has an active response in progress: resp_1.",
                "param": None,
                "event_id": "evt_2",
            },
        }
    )
    script.at(0.9).server(done("resp_1"))
    trace = trace_file(script.close())
    finding = _only(trace)
    assert finding.category == "protocol"
    assert finding.what == "response.create while a response was active"
    assert finding.rule.endswith("answering response.create evt_2")
    assert finding.server_rule == (
        "response.create: refused when a response is active and this one would join "
        "the conversation"
    )
    assert finding.next_step.startswith("wait for response.done")
    assert finding.origin == "local"
    assert trace.failed


def test_an_engine_failure_is_a_model_failure_reported_once(tmp_path: Path) -> None:
    message = "The model engine failed: scripted failure. Check the engine."
    error = {"type": "server_error", "code": "engine_failure", "message": message}
    script = Script(tmp_path / "model.jsonl")
    script.at(0.1).server(created("resp_1"))
    script.at(0.2).server({"type": "error", "error": {**error, "event_id": None}})
    script.at(0.21).server(
        done("resp_1", "failed", status_details={"type": "failed", "error": error})
    )
    trace = trace_file(script.close())
    finding = _only(trace)
    assert (finding.category, finding.code, finding.origin) == ("model", "engine_failure", "remote")
    assert "the prompt is not the cause" in finding.next_step


def test_a_tool_timeout_names_the_tool_and_its_limit(tmp_path: Path) -> None:
    call = {
        "id": "item_fc",
        "type": "function_call",
        "call_id": "call_1",
        "name": "lookup_order",
        "arguments": "{}",
    }
    output = json.dumps({"error": "'lookup_order' timed out after 8 s"})
    script = Script(tmp_path / "tool.jsonl")
    script.at(0.1).server(created("resp_1"))
    script.server(
        {
            "type": "response.output_item.added",
            "response_id": "resp_1",
            "output_index": 0,
            "item": call,
        }
    )
    script.at(0.2).server(done("resp_1"))
    script.at(8.2).client(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_1", "output": output},
        }
    )
    trace = trace_file(script.close())
    finding = _only(trace)
    assert (finding.category, finding.code) == ("tool", "tool_timeout")
    assert finding.message == "'lookup_order' timed out after 8 s"
    assert "call_1 (lookup_order)" in finding.rule
    assert trace.turns[0].responses[0].tool_calls == ["lookup_order"]


def test_a_failure_record_keeps_its_category_and_gets_the_hint_for_its_code(tmp_path: Path) -> None:
    script = Script(tmp_path / "tls.jsonl", url="wss://127.0.0.1:9/v1/realtime")
    script.writer.failure(
        "connection",
        "TLS handshake with 127.0.0.1:9 failed: [SSL] record layer failure",
        code="tls_failed",
        origin="remote",
    )
    trace = trace_file(script.close())
    finding = _only(trace)
    assert (finding.category, finding.code) == ("connection", "tls_failed")
    assert "certificate" in finding.next_step
    assert finding.rule == "failure record, code tls_failed"


def test_a_drop_without_close_frame_is_a_connection_failure_and_a_clean_close_is_not(
    tmp_path: Path,
) -> None:
    script = Script(tmp_path / "close.jsonl")
    script.at(1.0).writer.connection_closed(None, None, "transport")
    script.writer.lifecycle("active", "reconnecting", "connection_lost")
    script.writer.lifecycle("reconnecting", "active", "resumed")
    script.at(2.0).writer.connection_closed(1000, "bye", "client")
    trace = trace_file(script.close())
    finding = _only(trace)
    assert (finding.category, finding.code) == ("connection", "close_1006")
    assert "resume" in finding.next_step
    assert not trace.anomalies


def test_a_failure_record_and_the_error_event_it_came_from_are_one_finding(tmp_path: Path) -> None:
    script = Script(tmp_path / "twice.jsonl")
    error = {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "bad rate",
        "param": "session.audio.input.format.rate",
        "event_id": "evt_9",
    }
    script.at(0.1).client({"type": "session.update", "event_id": "evt_9", "session": {}})
    script.at(0.2).server({"type": "error", "error": error})
    script.writer.failure(
        "protocol", "bad rate", code="invalid_value", origin="local", event_id="evt_9"
    )
    trace = trace_file(script.close())
    finding = _only(trace)
    assert finding.rule.startswith("error event")


def test_an_unparseable_frame_from_the_server_is_a_protocol_failure(tmp_path: Path) -> None:
    script = Script(tmp_path / "raw.jsonl")
    script.writer.event("received", "not json{")
    finding = _only(trace_file(script.close()))
    assert (finding.category, finding.code) == ("protocol", "invalid_json")


def test_bad_lines_are_set_aside_and_the_rest_is_traced(tmp_path: Path) -> None:
    path = voice_turn(Script(tmp_path / "cut.jsonl"), 0.0, "item_u1", "resp_1").close()
    with path.open("a") as file:
        file.write("[1, 2]\n")
        file.write('{"kind": "event", "t": "soon"}\n')
        file.write('{"t": 3.0, "kind": "event", "event": {"type": "resp')  # the writer was killed
    trace = trace_file(path)
    assert trace.unreadable_count == 3
    assert trace.unreadable[0].startswith("cut.jsonl:") and "not a record" in trace.unreadable[0]
    assert len(trace.turns) == 1 and not trace.failed


def test_a_file_that_is_not_a_recording_is_refused_with_why(tmp_path: Path) -> None:
    (tmp_path / "log.jsonl").write_text('{"level": "info"}\n')
    with pytest.raises(RecordingError, match="not an rtagents recording"):
        trace_file(tmp_path / "log.jsonl")
    with pytest.raises(RecordingError, match="no such|does not exist"):
        trace_file(tmp_path / "missing.jsonl")
    damaged = {"format": "rtagents.recording", "version": 1, "side": "client", "audio": "elided"}
    (tmp_path / "damaged.jsonl").write_text(json.dumps({**damaged, "part": 0, "started_at": "x"}))
    with pytest.raises(RecordingError, match="header line is damaged"):
        trace_file(tmp_path / "damaged.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(RecordingError, match="empty"):
        trace_file(tmp_path / "empty.jsonl")


def test_rotated_parts_are_traced_as_one_session(tmp_path: Path) -> None:
    script = Script(tmp_path / "long.jsonl")
    script.writer.rotate_bytes = 4096
    for index in range(40):
        voice_turn(script, index * 3.0, f"item_{index}", f"resp_{index}")
    path = script.close()
    assert len(script.writer.parts) > 1
    trace = trace_file(tmp_path / "long.1.jsonl")  # any part names the whole recording
    assert len(trace.turns) == 40 and not trace.failed
    assert trace.turns[-1].waterfall()["done"] == pytest.approx(1000.0)
    assert path.name == "long.jsonl"


def test_a_turn_with_a_tool_call_is_done_when_its_last_response_is(tmp_path: Path) -> None:
    script = Script(tmp_path / "two.jsonl")
    script.writer.session_id = "sess_1"  # a client learns it from session.created
    script.at(0.0).server(user_item("item_1", "where is my order"))
    for response_id, start in (("resp_call", 0.1), ("resp_answer", 1.0)):
        script.at(start).server(created(response_id))
        script.at(start + 0.2).server(done(response_id)).mark(
            "response_done", response_id=response_id
        )
    trace = trace_file(script.close())
    [turn] = trace.turns
    assert [span.response_id for span in turn.responses] == ["resp_call", "resp_answer"]
    assert turn.waterfall()["done"] == pytest.approx(1200.0)
    assert trace.header["session_id"] == "sess_1"


def test_on_webrtc_the_first_audio_is_when_the_output_buffer_starts(tmp_path: Path) -> None:
    script = Script(tmp_path / "webrtc.jsonl", transport="webrtc")
    script.at(0.0).server(user_item("item_1", "hi")).at(0.1).server(created("resp_1"))
    script.at(0.3).server(text_delta("resp_1", "item_r"))
    script.at(0.45).server({"type": "output_audio_buffer.started", "response_id": "resp_1"})
    script.at(0.5).server(done("resp_1"))
    [turn] = trace_file(script.close()).turns
    assert turn.waterfall()["first_audio"] == pytest.approx(450.0)
