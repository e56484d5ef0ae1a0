"""SessionMetrics: what one session's events add to its server's metrics.

Fed real GA event models (decoded by the codec) and real errors of the
taxonomy, as the host would show them.
"""

from __future__ import annotations

from typing import Any

from rtagents.observability.metrics import ServerMetrics
from rtagents.observability.metrics_observer import MAX_PENDING_TRANSCRIPTS, SessionMetrics
from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.protocol.errors import LocalProtocolError, Origin, ToolError
from rtagents.server.host.backend import ReceivedEvent


def event(payload: dict[str, Any]) -> Any:
    decoded = decode_server_event(encode_event({"event_id": "event_1", **payload}))
    assert getattr(decoded, "type", None) == payload["type"], decoded
    return decoded


def error_event(error_type: str, code: str | None) -> Any:
    body = {"type": error_type, "code": code, "message": "m", "param": None, "event_id": None}
    return event({"type": "error", "error": body})


def sample(metrics: ServerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_errors_count_by_the_category_of_the_error_or_of_the_wire_payload() -> None:
    metrics = ServerMetrics()
    watcher = SessionMetrics(metrics)
    refused = LocalProtocolError("bad", code="invalid_value")
    watcher.on_sent(error_event("invalid_request_error", "invalid_value"), refused)
    watcher.on_sent(error_event("server_error", "x"), ToolError("x", origin=Origin.LOCAL))
    watcher.on_sent(error_event("server_error", None), None)  # built by a backend
    errors = "rtagents_errors_total"
    assert sample(metrics, errors, category="protocol", code="invalid_value") == 1.0
    assert sample(metrics, errors, category="tool", code="none") == 1.0
    assert sample(metrics, errors, category="model", code="none") == 1.0
    assert sample(metrics, "rtagents_events_total", direction="out", type="error") == 3.0


def test_client_frames_count_by_type_and_unreadable_ones_as_unknown() -> None:
    metrics = ServerMetrics()
    watcher = SessionMetrics(metrics)
    watcher.on_received(
        ReceivedEvent(type="input_audio_buffer.append", event_id=None, outcome="ok")
    )
    watcher.on_received(ReceivedEvent(type=None, event_id=None, outcome="invalid"))
    watcher.on_received(ReceivedEvent(type="beta.thing", event_id=None, outcome="unknown"))
    events = "rtagents_events_total"
    assert sample(metrics, events, direction="in", type="input_audio_buffer.append") == 1.0
    assert sample(metrics, events, direction="in", type="unknown") == 2.0


def test_the_transcript_stage_is_timed_when_it_comes_even_after_the_response() -> None:
    metrics = ServerMetrics()
    watcher = SessionMetrics(metrics)
    for n in range(MAX_PENDING_TRANSCRIPTS + 5):  # turns whose transcript never comes
        watcher.on_sent(
            event(
                {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1, "item_id": f"i{n}"}
            ),
            None,
        )
    assert len(watcher._stopped_at) == MAX_PENDING_TRANSCRIPTS
    last = f"i{MAX_PENDING_TRANSCRIPTS + 4}"
    completed = {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": last,
        "content_index": 0,
        "transcript": "hi",
        "usage": {"type": "duration", "seconds": 1},
    }
    watcher.on_sent(event(completed), None)
    watcher.on_sent(event(completed), None)  # a second one for the same item: counted once
    count = "rtagents_turn_latency_seconds_count"
    assert sample(metrics, count, stage="transcript") == 1.0
    failed = {
        "type": "conversation.item.input_audio_transcription.failed",
        "item_id": "i5",
        "content_index": 0,
        "error": {"type": "server_error", "code": None, "message": "m", "param": None},
    }
    watcher.on_sent(event(failed), None)  # a failed transcript is no latency
    assert sample(metrics, count, stage="transcript") == 1.0
    assert "i5" not in watcher._stopped_at


def test_who_closed_the_session_and_resumes() -> None:
    metrics = ServerMetrics()
    watcher = SessionMetrics(metrics)
    watcher.on_resumed()
    watcher.on_closed(1000, "bye", "client")
    assert sample(metrics, "rtagents_resumes_total", result="resumed") == 1.0
    assert sample(metrics, "rtagents_sessions_ended_total", outcome="client") == 1.0


def test_a_commit_ends_a_push_to_talk_turn_but_not_a_vad_one() -> None:
    metrics = ServerMetrics()
    watcher = SessionMetrics(metrics)
    stopped = {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1, "item_id": "vad"}
    watcher.on_sent(event(stopped), None)
    vad_end = watcher._stopped_at["vad"]
    committed = {"type": "input_audio_buffer.committed", "previous_item_id": None}
    watcher.on_sent(event({**committed, "item_id": "vad"}), None)
    assert watcher._stopped_at["vad"] == vad_end  # the VAD's decision stays the end
    watcher.on_sent(event({**committed, "item_id": "ptt"}), None)
    assert "ptt" in watcher._stopped_at
