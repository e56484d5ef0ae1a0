"""GET /metrics on a real server: auth, a parseable exposition, and histograms a spoken turn moves.

The turn is spoken into the server's VAD in lock step (``vad_harness``) with
the scripted engine, so it is decided by audio time, not by this machine's speed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_harness import memory_session, mint, session
from vad_harness import Streamer, configure, speech

from rtagents.engines.local.whisper_stt import WhisperSTT
from rtagents.engines.scripted import scripted_engines
from rtagents.observability.metrics import MAX_ERROR_CODES
from rtagents.server.app import create_app
from rtagents.server.config import ServerConfig
from rtagents.server.metrics_route import MetricsListener
from rtagents.server.serving import RunningServer, running_server

ENDED = "rtagents_sessions_ended_total"
TRANSCRIBED = {"audio": {"input": {"transcription": {"model": "whisper-1"}}}}


async def scrape(server: RunningServer, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        return await http.get("/metrics", headers=headers)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition by (name, sorted labels), through prometheus' own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_metrics_need_the_servers_api_key(server: RunningServer) -> None:
    assert (await scrape(server)).status_code == 401
    assert (await scrape(server, "sk-wrong")).status_code == 401
    secret = (await mint(server)).json()["value"]
    refused = await scrape(server, secret)
    assert refused.status_code == 401
    assert "API key" in refused.json()["error"]["message"]
    answered = await scrape(server, server.api_key)
    assert answered.status_code == 200
    assert answered.headers["content-type"].startswith("text/plain")
    found = samples(answered.text)
    assert found["rtagents_client_secrets_total", (("result", "minted"),)] == 1.0


async def test_histograms_move_after_a_spoken_turn(server: RunningServer) -> None:
    before = samples((await scrape(server, server.api_key)).text)
    stage = "rtagents_turn_latency_seconds_count"
    assert before[stage, (("stage", "first_audio"),)] == 0.0
    async with session(server) as client:  # a real WebSocket on loopback
        await configure(client, {"type": "server_vad"}, **TRANSCRIBED)
        stream = Streamer(client)
        await stream.send(speech("Hello there.", lead_ms=300, tail_ms=600), chunk_ms=40)
        await stream.quiet_until("input_audio_buffer.speech_stopped")
        await stream.until("response.done")
        await stream.until("conversation.item.input_audio_transcription.completed")
        during = samples((await scrape(server, server.api_key)).text)
    assert during["rtagents_sessions_active", ()] == 1.0
    for name in ("transcript", "first_token", "first_text", "first_audio", "done"):
        assert during[stage, (("stage", name),)] == 1.0, name
    assert during["rtagents_turn_latency_seconds_sum", (("stage", "done"),)] > 0
    out = during["rtagents_events_total", (("direction", "out"), ("type", "response.done"))]
    assert out == 1.0
    appends = (("direction", "in"), ("type", "input_audio_buffer.append"))
    assert during["rtagents_events_total", appends] > 10


async def test_a_push_to_talk_turn_counts_from_the_commit(server: RunningServer) -> None:
    stage = "rtagents_turn_latency_seconds_count"
    async with memory_session(server) as client:
        await client.roundtrip(
            {"type": "session.update", "session": {"type": "realtime", **TRANSCRIBED}},
            "session.updated",
        )
        await client.say("Hello there.")  # appends, then the client's own commit
        seen = [event.type for event in await client.respond()]
        if "conversation.item.input_audio_transcription.completed" not in seen:
            await client.until("conversation.item.input_audio_transcription.completed")
        found = samples((await scrape(server, server.api_key)).text)
    for name in ("transcript", "first_token", "first_audio", "done"):
        assert found[stage, (("stage", name),)] == 1.0, name


async def test_unknown_types_and_codes_cannot_grow_the_series(server: RunningServer) -> None:
    async with memory_session(server) as client:
        for n in range(5):
            await client.error({"type": f"made.up.{n}"})
    await ended(server)
    found = samples((await scrape(server, server.api_key)).text)
    types = {dict(labels)["type"] for name, labels in found if name == "rtagents_events_total"}
    assert not any(t.startswith("made.up") for t in types)
    assert found["rtagents_events_total", (("direction", "in"), ("type", "unknown"))] == 5.0
    errors = {dict(labels)["code"] for name, labels in found if name == "rtagents_errors_total"}
    assert len(errors) <= MAX_ERROR_CODES + 1
    by = {dict(labels)["outcome"]: n for (name, labels), n in found.items() if name == ENDED}
    assert sum(by.values()) == 1.0


async def test_sessions_end_counted_by_who_closed_them(server: RunningServer) -> None:
    async with session(server) as client:
        await client.ws.close()
    async with session(server) as client:
        await client.error({"type": "input_audio_buffer.commit"})  # an empty buffer
    await ended(server)
    found = samples((await scrape(server, server.api_key)).text)
    assert found["rtagents_sessions_ended_total", (("outcome", "client"),)] == 2.0
    assert found["rtagents_sessions_active", ()] == 0.0
    empty = (("category", "protocol"), ("code", "input_audio_buffer_commit_empty"))
    assert found["rtagents_errors_total", empty] == 1.0


async def ended(server: RunningServer) -> None:
    """Until every session host has ended (each ends just after its socket closes)."""
    hosts = list(server.app.state.rtagents.sessions)
    await asyncio.wait_for(asyncio.gather(*(h.wait_closed() for h in hosts)), 30)


@pytest.fixture
async def own_port() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0, metrics_port=0)) as running:
        yield running


async def test_a_metrics_port_serves_them_without_auth_and_the_main_port_not(
    own_port: RunningServer,
) -> None:
    assert (await scrape(own_port, own_port.api_key)).status_code == 404
    listener = MetricsListener(own_port.config)
    try:
        async with httpx.AsyncClient() as http:
            answered = await http.get(f"http://127.0.0.1:{listener.port}/metrics")
    finally:
        listener.close()
    assert answered.status_code == 200
    assert ("rtagents_sessions_active", ()) in samples(answered.text)


def test_engines_that_queue_jobs_report_their_waits() -> None:
    config = ServerConfig()
    whisper = WhisperSTT()  # not loaded: construction is cheap
    try:
        create_app(config, dataclasses.replace(scripted_engines(), stt=whisper))
        assert whisper.on_queue_wait is not None
        whisper.on_queue_wait(0.5)  # as a worker thread does when a job starts
    finally:
        whisper.close()
    registry = config.metrics.registry
    labels = {"engine": "stt"}
    assert registry.get_sample_value("rtagents_engine_queue_wait_seconds_count", labels) == 1.0
    assert registry.get_sample_value("rtagents_engine_queue_wait_seconds_sum", labels) == 0.5


async def test_secrets_refused_at_use_are_counted_beside_those_minted(
    server: RunningServer,
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    async def open_with(secret: str, model: str = "gpt-realtime") -> int:
        headers = {"Authorization": f"Bearer {secret}"}
        try:
            async with connect(f"{server.ws_url}?model={model}", additional_headers=headers):
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    secret = (await mint(server, {"session": {"type": "realtime", "model": "gpt-realtime"}})).json()
    assert await open_with(secret["value"], "gpt-realtime-mini") == 403  # another model
    assert await open_with(secret["value"]) == 101
    assert await open_with(secret["value"]) == 403  # one session per secret
    assert await open_with("ek_" + "x" * 40) == 401  # not a secret this server signed
    found = samples((await scrape(server, server.api_key)).text)
    uses = {
        labels[0][1]: value
        for (name, labels), value in found.items()
        if name == "rtagents_client_secret_uses_total"
    }
    assert uses == {
        "accepted": 1.0,
        "model_mismatch": 1.0,
        "secret_already_used": 1.0,
        "invalid_client_secret": 1.0,
    }
