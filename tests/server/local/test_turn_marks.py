"""The per-turn latency log line, read from the real log records of a real server.

Every transport the host serves over a socket or in memory, and every way a
turn ends (server VAD, semantic VAD, the client's commit), must log every
stage: speech stopped (or the commit) -> transcript -> first token -> first
text -> first audio -> done; a stage that cannot happen (a text-only reply has
no audio) is logged as absent, with the reason. Only order and presence are
asserted, never durations. WebRTC calls: tests/server/webrtc/test_webrtc_turn_marks.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from server_harness import RawClient, session
from vad_harness import Streamer, configure, speech

from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.local.turn_marks import STAGES, TurnMarks, describe
from rtagents.server.serving import running_server

TRANSCRIBED = {"audio": {"input": {"transcription": {"model": "whisper-1"}}}}
TEXT_ONLY = {"output_modalities": ["text"]}
LOGGER = "rtagents.server.turns"


def turn_records(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if getattr(r, "event_type", None) == "turn.marks"]


def assert_complete_and_ordered(record: Any, *, audio: bool = True) -> None:
    """Every stage has a time (or, for audio, an explicit absence), in pipeline order."""
    stages = [s for s in STAGES if audio or s != "first_audio"]
    times = [getattr(record, f"{stage}_ms") for stage in stages]
    assert None not in times, (record.getMessage(), record.absent)
    # The reply waits for what the user said; text precedes the audio that speaks it.
    assert times == sorted(times), record.getMessage()
    assert "absent" not in record.getMessage() if audio else True
    assert record.done_ms >= 0


@pytest.fixture(autouse=True)
def _turn_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)


async def test_server_vad_turn_over_memory(
    client: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    await configure(client, {"type": "server_vad"}, **TRANSCRIBED)
    stream = Streamer(client)
    await stream.send(speech("Hello there.", lead_ms=300, tail_ms=700))
    await stream.quiet_until("response.created")
    done = await stream.until("response.done")
    (record,) = turn_records(caplog)
    assert (record.turn, record.transport, record.origin) == (
        "server_vad",
        "memory",
        "speech_stopped",
    )
    assert record.response_id == done.event.response.id
    assert record.item_id == stream.first("input_audio_buffer.speech_stopped").event.item_id
    assert_complete_and_ordered(record)
    assert record.absent == {}
    assert record.session_id


async def test_push_to_talk_turn_over_websocket(
    socket_client: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    await configure(socket_client, None, **TRANSCRIBED)
    await socket_client.say("Hello there.")  # appends, then input_audio_buffer.commit
    await socket_client.until("input_audio_buffer.committed")
    events = await socket_client.respond()
    (record,) = turn_records(caplog)
    assert (record.turn, record.transport, record.origin) == ("manual", "websocket", "committed")
    assert record.response_id == events[-2].response.id
    assert_complete_and_ordered(record)


async def test_semantic_vad_text_reply_logs_audio_as_absent(
    socket_client: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    await configure(socket_client, {"type": "semantic_vad"}, **TRANSCRIBED, **TEXT_ONLY)
    stream = Streamer(socket_client)
    await stream.send(speech("Hello there.", lead_ms=300, tail_ms=1500))
    await stream.quiet_until("response.created")
    await stream.until("response.done")
    (record,) = turn_records(caplog)
    assert (record.turn, record.transport) == ("semantic_vad", "websocket")
    assert_complete_and_ordered(record, audio=False)
    assert record.first_audio_ms is None
    assert record.absent == {"first_audio": "text-only response"}
    assert "first audio absent (text-only response)" in record.getMessage()


async def test_push_to_talk_without_transcription_says_why_no_transcript(
    client: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    await configure(client, None)
    await client.say("Hello.")
    await client.until("input_audio_buffer.committed")
    await client.respond()
    (record,) = turn_records(caplog)
    assert record.transcript_final_ms is None
    assert record.absent == {"transcript_final": "not sent: audio.input.transcription is off"}
    assert None not in [record.first_token_ms, record.first_text_ms, record.first_audio_ms]


async def test_a_response_with_no_turn_is_timed_from_its_start(
    client: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    await configure(client, None)
    await client.user_text("Hello.")
    await client.respond()
    (record,) = turn_records(caplog)
    assert (record.turn, record.origin) == (None, "response_created")
    assert record.absent == {
        "transcript_final": "no voice turn: the client asked for this response"
    }
    times = [record.first_token_ms, record.first_text_ms, record.first_audio_ms, record.done_ms]
    assert None not in times and times == sorted(times)
    assert record.getMessage().startswith("no voice turn over memory")


async def test_a_function_call_reply_has_no_text_or_audio(
    client: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
    await configure(client, None, tools=tools, tool_choice="required")
    await client.user_text("look it up")
    events = await client.respond()
    assert events[-2].response.output[0].type == "function_call"
    (record,) = turn_records(caplog)
    assert record.first_token_ms is not None and record.done_ms is not None
    assert record.absent["first_text"].startswith("no text")
    assert record.absent["first_audio"].startswith("no audio")


def test_every_stage_is_described_even_when_nothing_happened() -> None:
    marks = TurnMarks(session_id="sess_1", response_id="resp_1", status="cancelled")
    text = describe(marks)
    for label in ("transcript", "first token", "first text", "first audio", "done"):
        assert f"{label} absent" in text
    assert marks.summary()["stages_ms"] == dict.fromkeys(STAGES)


async def test_a_session_closed_mid_reply_logs_what_it_had(
    caplog: pytest.LogCaptureFixture,
) -> None:
    story = " ".join(f"Sentence {n} of a long story." for n in range(40))
    engines = scripted_engines([Rule("story", Say(story, token_delay_s=0.01))])
    async with running_server(ServerConfig(port=0), engines) as server:
        async with session(server) as client:
            await configure(client, None, **TEXT_ONLY)
            await client.user_text("tell me a story")
            await client.send({"type": "response.create"})
            await client.until("response.output_text.delta")
        for _ in range(200):  # the server sees the close, then the session ends
            if turn_records(caplog):
                break
            await asyncio.sleep(0.05)
    (record,) = turn_records(caplog)
    assert record.status is None and record.first_text_ms is not None
    assert record.absent["done"] == "the session ended first"
    assert "response.done" not in record.getMessage()
    assert "done absent (the session ended first)" in record.getMessage()
