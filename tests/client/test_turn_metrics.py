"""``session.metrics``: per-turn latencies from the events a client sees, against a real server.

The server is rtagents with the scripted engine and its energy VAD on
loopback; the turn is spoken with server turn detection, so every stage
(transcript, first text, first audio, done) happens. No time is asserted,
only which stages were seen and their order where the protocol fixes it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rtagents.client import connect
from rtagents.client.turn_metrics import OPEN_KEPT, TURNS_KEPT, TurnMetrics
from rtagents.engines.scripted import scripted_engines, scripted_speech
from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server
from rtagents.testing.spoken import stream_speech

VOICE_TURNS = {
    "type": "realtime",
    "audio": {
        "input": {
            "turn_detection": {"type": "server_vad"},
            "transcription": {"model": "whisper-1"},
        }
    },
}


async def until_done(session: Any, transcripts: int = 1) -> None:
    """Read events until a response is done and ``transcripts`` transcripts came."""
    done = heard = 0
    async with asyncio.timeout(60):
        async for event in session:
            done += event.type == "response.done"
            heard += event.type == "conversation.item.input_audio_transcription.completed"
            if done and heard >= transcripts:
                return


async def test_a_spoken_turn_fills_every_stage() -> None:
    async with running_server(ServerConfig(port=0), scripted_engines()) as server:
        async with connect(server.ws_url, credentials=server.api_key, model="gpt-realtime") as s:
            assert s.metrics.turns == [] and s.metrics.latest is None
            await s.update_session(VOICE_TURNS)
            await stream_speech(s, scripted_speech("Hello there."), realtime=False)
            await until_done(s)
            # A response the app asked for itself: marks, but no end of a turn to count from.
            await s.create_response()
            await until_done(s, transcripts=0)
            # Push to talk: the app's own commit ends the turn.
            audio = {"input": {"turn_detection": None}}
            await s.update_session({"type": "realtime", "audio": audio})
            await stream_speech(s, scripted_speech("Bye."), realtime=False, trailing_silence_ms=0)
            await s.commit_audio()
            await s.create_response()
            await until_done(s)
    spoken, asked, pushed = s.metrics.turns
    assert spoken.item_id is not None and spoken.response_id is not None
    assert spoken.status == "completed"
    latencies = spoken.as_dict()
    assert all(latencies[k] is not None for k in latencies), latencies
    assert spoken.first_text_ms is not None and spoken.done_ms is not None
    assert spoken.first_audio_ms is not None
    assert 0 <= spoken.first_text_ms <= spoken.done_ms
    assert 0 <= spoken.first_audio_ms <= spoken.done_ms
    assert asked.item_id is None and asked.done_at is not None
    assert asked.done_ms is None and asked.first_audio_ms is None
    assert pushed.ended_at is not None and pushed.transcript_ms is not None
    assert pushed.first_audio_ms is not None and pushed.done_ms is not None
    assert s.metrics.latest is pushed


def event(payload: dict[str, Any]) -> Any:
    decoded = decode_server_event(encode_event(payload))
    assert getattr(decoded, "type", None) == payload["type"], decoded
    return decoded


def response(response_id: str, status: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": response_id, "object": "realtime.response", "output": []}
    if status is not None:
        body["status"] = status
    return body


def test_webrtc_first_audio_is_output_audio_buffer_started() -> None:
    """On WebRTC, audio is RTP: the first audio the client learns of is the buffer starting."""
    now = iter(float(n) for n in range(10))
    metrics = TurnMetrics(lambda: next(now))
    for payload in (
        {"type": "input_audio_buffer.speech_stopped", "event_id": "e1", "audio_end_ms": 900,
         "item_id": "item_1"},
        {"type": "response.created", "event_id": "e2", "response": response("resp_1")},
        {"type": "output_audio_buffer.started", "event_id": "e3", "response_id": "resp_1"},
        {"type": "response.done", "event_id": "e4", "response": response("resp_1", "completed")},
        {"type": "conversation.item.input_audio_transcription.completed", "event_id": "e5",
         "item_id": "item_1", "content_index": 0, "transcript": "hi",
         "usage": {"type": "duration", "seconds": 1}},
    ):  # fmt: skip
        metrics.observe(event(payload))
    (turn,) = metrics.turns
    # The clock is read at each mark: 0 (stopped), 1 (audio started), 2 (done), 3.
    assert turn.first_audio_ms == 1000.0
    assert turn.done_ms == 2000.0
    assert turn.transcript_ms == 3000.0  # a transcript after response.done still counts
    assert turn.first_text_ms is None


def test_what_it_keeps_is_bounded() -> None:
    now = iter(float(n) for n in range(10_000))
    metrics = TurnMetrics(lambda: next(now))
    for n in range(TURNS_KEPT + 20):
        metrics.observe(
            event({"type": "response.created", "event_id": f"c{n}", "response": response(f"r{n}")})
        )
        done = response(f"r{n}", "completed")
        metrics.observe(event({"type": "response.done", "event_id": f"d{n}", "response": done}))
    for n in range(3 * OPEN_KEPT):  # responses that never end, turns never answered
        metrics.observe(
            event({"type": "response.created", "event_id": f"o{n}", "response": response(f"o{n}")})
        )
    assert len(metrics.turns) == TURNS_KEPT
    assert metrics.turns[0].response_id == "r20"
    assert len(metrics._by_response) <= OPEN_KEPT
