"""The per-turn latency log line on a WebRTC call: first audio is when the track plays it.

On a call no ``output_audio.delta`` goes out: the reply's audio is played into
the track, and ``output_audio_buffer.started`` says when its first frame was.
That is the call's first-audio mark, and it may come after ``response.done``
(synthesis outruns playback), so the record waits for it. A raw aiortc peer
(``webrtc_peer``) is the caller; the log records are the server's own. Only
order and presence are asserted, never durations.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from webrtc_peer import RawCall

from rtagents.engines.scripted import Rule, Say, scripted_engines, scripted_speech
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

REPLY = "Here is a reply long enough to be cut while it plays, sentence after sentence."
TRANSCRIBED = {"transcription": {"model": "whisper-1"}}


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    engines = scripted_engines([Rule("interrupt", Say(REPLY))])
    async with running_server(ServerConfig(port=0, webrtc_loopback=True), engines) as running:
        yield running


def session(turn_detection: Any) -> dict[str, Any]:
    return {
        "type": "realtime",
        "audio": {"input": {**TRANSCRIBED, "turn_detection": turn_detection}},
    }


def turn_records(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if getattr(r, "event_type", None) == "turn.marks"]


def assert_call_turn(record: Any, turn: str, origin: str) -> None:
    assert (record.turn, record.transport, record.origin) == (turn, "webrtc", origin)
    assert record.absent == {}, record.getMessage()
    assert "absent" not in record.getMessage()
    stages = ["transcript_final_ms", "first_token_ms", "first_text_ms", "first_audio_ms"]
    times = [getattr(record, name) for name in stages]
    assert None not in times and times == sorted(times), record.getMessage()
    # Playback may start after response.done: only the text must precede it.
    assert record.first_text_ms <= record.done_ms


@pytest.fixture(autouse=True)
def _turn_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rtagents.server.turns")


async def test_push_to_talk_turn_on_a_call(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    call = await RawCall.open(server, session=session(None))
    try:
        call.track.enqueue(scripted_speech("hello there") + bytes(48_00 * 2 * 5))
        await call.track.drained()
        await call.send({"type": "input_audio_buffer.commit"})
        await call.send({"type": "response.create"})
        events = await call.until("output_audio_buffer.stopped")
        done = next(e for e in events if e.type == "response.done")
        (record,) = turn_records(caplog)
        assert record.response_id == done.response.id
        assert_call_turn(record, "manual", "committed")
    finally:
        await call.close()


async def test_server_vad_turn_on_a_call(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    call = await RawCall.open(server, session=session({"type": "server_vad"}))
    try:
        call.track.enqueue(scripted_speech("hello there") + bytes(24_000 * 2))
        events = await call.until("output_audio_buffer.stopped")
        stopped = next(e for e in events if e.type == "input_audio_buffer.speech_stopped")
        (record,) = turn_records(caplog)
        assert record.item_id == stopped.item_id
        assert_call_turn(record, "server_vad", "speech_stopped")
    finally:
        await call.close()


async def test_a_reply_cleared_before_it_played_says_so(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A long reply plays, a second waits behind it; a clear cuts the second unheard."""
    call = await RawCall.open(server, session=session(None))
    try:
        await call.until("conversation.created")
        await ask(call, "interrupt me")
        events = await call.until("response.done")
        if "output_audio_buffer.started" not in [e.type for e in events]:
            await call.until("output_audio_buffer.started")
        await ask(call, "hello")
        await call.until("response.done")  # synthesised: queued behind the long reply
        await call.send({"type": "output_audio_buffer.clear"})
        await call.until("output_audio_buffer.cleared")
        await call.until("output_audio_buffer.cleared")  # one per response cut
        first, second = turn_records(caplog)
        assert first.first_audio_ms is not None
        assert second.first_audio_ms is None
        assert second.absent == {
            "transcript_final": "no voice turn: the client asked for this response",
            "first_audio": "cleared before it played",
        }
        assert "first audio absent (cleared before it played)" in second.getMessage()
    finally:
        await call.close()


async def ask(call: RawCall, text: str) -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await call.send({"type": "conversation.item.create", "item": item})
    await call.send({"type": "response.create"})


async def test_the_console_reads_a_calls_marks_with_the_secret_that_opened_it(
    server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:

        async def mint() -> str:
            auth = {"Authorization": f"Bearer {server.api_key}"}
            reply = await http.post("/v1/realtime/client_secrets", json={}, headers=auth)
            value: str = reply.json()["value"]
            return value

        async def turns(call_id: str, key: str | None) -> httpx.Response:
            auth = {"Authorization": f"Bearer {key}"} if key is not None else {}
            return await http.get(f"/console/calls/{call_id}/turns", headers=auth)

        owner, other = await mint(), await mint()
        call = await RawCall.open(server, key=owner)
        try:
            await call.until("conversation.created")
            await ask(call, "hello")
            await call.until("output_audio_buffer.stopped")
            read = await turns(call.call_id, owner)
            assert read.status_code == 200, read.text
            assert read.headers["cache-control"] == "no-store"
            body = read.json()
            (turn,) = body["turns"]
            assert (body["call_id"], turn["transport"], turn["origin"]) == (
                call.call_id,
                "webrtc",
                "response_created",
            )
            stages = turn["stages_ms"]
            assert list(stages) == [
                "transcript_final",
                "first_token",
                "first_text",
                "first_audio",
                "done",
            ]
            assert None not in [stages[s] for s in ("first_token", "first_text", "first_audio")]
            assert turn["absent"] == {
                "transcript_final": "no voice turn: the client asked for this response"
            }
            assert (await turns(call.call_id, server.api_key)).status_code == 200
            refused = await turns(call.call_id, other)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "insufficient_permissions"
            assert (await turns(call.call_id, None)).status_code == 401
            assert (await turns(call.call_id, "ek_not_a_secret")).status_code == 401
            assert (await turns("rtc_nosuchcall", owner)).status_code == 404
        finally:
            await call.close()


async def test_a_reply_still_being_written_shows_the_stages_it_reached() -> None:
    # The first clause is spoken while the model writes the rest (a few tokens, 0.2 s each).
    slow = scripted_engines([Rule("story", Say(REPLY, token_delay_s=0.2))])
    config = ServerConfig(port=0, webrtc_loopback=True)
    async with running_server(config, slow) as running, httpx.AsyncClient() as http:
        call = await RawCall.open(running, session=session(None))
        try:
            await call.until("conversation.created")
            await ask(call, "tell me a story")
            await call.until("output_audio_buffer.started")  # the model is still writing
            read = await http.get(
                f"{running.http_url}/console/calls/{call.call_id}/turns",
                headers={"Authorization": f"Bearer {running.api_key}"},
            )
            (turn,) = read.json()["turns"]
            assert (turn["status"], turn["transport"]) == (None, "webrtc")
            stages = turn["stages_ms"]
            reached = [stages[s] for s in ("first_token", "first_text", "first_audio")]
            assert None not in reached and reached == sorted(reached), stages
            assert stages["done"] is None and "done" not in turn["absent"]
        finally:
            await call.close()
