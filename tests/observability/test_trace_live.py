"""Real sessions recorded, then traced: a forced failure of each category, classified right.

Each test runs the real server with the scripted engine on loopback and
records with the real recorders (the client's ``connect(..., record=PATH)``,
the server's per-session observer), then traces the file as
``rtagents trace`` would. The scripted engine is the model's double; the
protocol, transports and recorders are the real ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from recording_fixtures import record_failures
from websockets.asyncio.client import connect as websockets_connect

from rtagents.client import connect
from rtagents.engines.scripted import CallTool, Fail, Rule, Say, scripted_engines, scripted_speech
from rtagents.observability.trace_analysis import Trace, trace_file
from rtagents.protocol.errors import ConnectionFailure
from rtagents.server.config import ServerConfig
from rtagents.server.host.recording_observer import session_recorders
from rtagents.server.serving import RunningServer, running_server

WAIT_S = 20.0
RULES = [
    Rule(when="break", then=Fail("scripted failure", hint="restart the model server")),
    Rule(when="order", then=CallTool("lookup_order", {"order_id": "42"})),
    Rule(when="slowly", then=Say("one two three four five six seven", token_delay_s=0.05)),
]
SPOKEN = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {
        "input": {"turn_detection": {"type": "server_vad"}, "transcription": {"model": "whisper-1"}}
    },
}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, observers=[session_recorders(tmp_path / "server")])
    async with running_server(config, scripted_engines(RULES)) as running:
        yield running


def _categories(trace: Trace) -> list[tuple[str, str | None]]:
    return [(finding.category, finding.code) for finding in trace.findings]


async def test_a_spoken_turn_gets_every_stage_of_its_waterfall(
    server: RunningServer, tmp_path: Path
) -> None:
    path = tmp_path / "voice.jsonl"
    async with connect(server.ws_url, credentials=server.api_key, record=path) as session:
        await session.update_session(SPOKEN)
        done = asyncio.create_task(session.wait_for("response.done", timeout=WAIT_S))
        await asyncio.sleep(0)
        await session.append_audio(scripted_speech("hello there"))
        await session.append_audio(b"\0\0" * 24_000)  # a second of silence: speech stopped
        await done
    trace = trace_file(path)
    assert not trace.failed, trace.findings or trace.anomalies
    [turn] = trace.turns
    assert turn.kind == "voice" and turn.transcript == "hello there"
    waterfall = turn.waterfall()
    stages = [waterfall[s] for s in ("transcript", "first_text", "first_audio", "done")]
    assert None not in stages, waterfall
    assert waterfall["first_text"] <= waterfall["done"]  # type: ignore[operator]
    assert waterfall["first_audio"] <= waterfall["done"]  # type: ignore[operator]


async def test_an_engine_failure_is_classified_model_on_both_sides(
    server: RunningServer, tmp_path: Path
) -> None:
    path = tmp_path / "model.jsonl"
    async with connect(server.ws_url, credentials=server.api_key, record=path) as session:
        done = asyncio.create_task(session.wait_for("response.done", timeout=WAIT_S))
        await asyncio.sleep(0)
        await session.send_text("please break")
        await session.create_response()
        assert (await done).response.status == "failed"
    for recording in (path, *(tmp_path / "server").glob("*.jsonl")):
        trace = trace_file(recording)
        assert _categories(trace) == [("model", "engine_failure")], (recording, trace.findings)
        assert "restart the model server" in trace.findings[0].message
        assert trace.turns[-1].responses[-1].status == "failed"


async def test_a_tool_that_times_out_is_classified_tool(
    server: RunningServer, tmp_path: Path
) -> None:
    path = tmp_path / "tool.jsonl"
    never = asyncio.Event()
    async with connect(server.ws_url, credentials=server.api_key, record=path) as session:

        @session.tools.register(timeout=0.2)
        async def lookup_order(order_id: str) -> str:
            await never.wait()
            return order_id

        await session.update_session({"type": "realtime", "tools": session.tools.definitions()})
        answered = asyncio.Event()

        def count(event: object) -> None:
            if (
                len(
                    [
                        r
                        for r in session.conversation.responses.values()
                        if r.status != "in_progress"
                    ]
                )
                >= 2
            ):
                answered.set()

        session.on("response.done", count)
        await session.send_text("where is my order")
        await session.create_response()
        await asyncio.wait_for(answered.wait(), WAIT_S)  # the call, then the answer to its output
    trace = trace_file(path)
    assert _categories(trace) == [("tool", "tool_timeout")], trace.findings
    finding = trace.findings[0]
    assert finding.message == "'lookup_order' timed out after 0.2 s"
    assert "(lookup_order)" in finding.rule
    assert ["lookup_order"] in [span.tool_calls for span in trace.turns[0].responses]


async def test_a_second_response_create_is_a_protocol_failure_with_its_server_rule(
    server: RunningServer, tmp_path: Path
) -> None:
    """A raw client (no response gate) asks twice; the server's own recording is traced."""
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with websockets_connect(
        f"{server.ws_url}?model=gpt-realtime", additional_headers=headers
    ) as raw:
        await raw.send(
            json.dumps({"type": "conversation.item.create", "item": _user_text("slowly")})
        )
        await raw.send(json.dumps({"type": "response.create", "event_id": "evt_first"}))
        await raw.send(json.dumps({"type": "response.create", "event_id": "evt_second"}))
        seen: list[str] = []
        while "response.done" not in seen:
            seen.append(json.loads(await asyncio.wait_for(raw.recv(), WAIT_S))["type"])
    [path] = (tmp_path / "server").glob("*.jsonl")
    await _until_closed(path)
    trace = trace_file(path)
    assert _categories(trace) == [("protocol", "conversation_already_has_active_response")]
    finding = trace.findings[0]
    assert "answering response.create evt_second" in finding.rule
    assert finding.server_rule is not None and "a response is active" in finding.server_rule
    assert finding.next_step.startswith("wait for response.done")


async def test_tls_to_a_plain_server_is_a_connection_failure(
    server: RunningServer, tmp_path: Path
) -> None:
    path = tmp_path / "tls.jsonl"
    tls_url = server.ws_url.replace("ws://", "wss://")
    with pytest.raises(ConnectionFailure):
        async with connect(
            tls_url, credentials=server.api_key, record=path, reconnect=False, open_timeout=5
        ):
            pass
    trace = trace_file(path)
    assert _categories(trace) == [("connection", "tls_failed")], trace.findings
    assert "certificate" in trace.findings[0].next_step


def _user_text(text: str) -> dict[str, object]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def _until_closed(path: Path) -> None:
    """The server writes its close record when the session ends; wait for it."""
    for _ in range(int(WAIT_S / 0.05)):
        if '"kind":"close"' in await asyncio.to_thread(path.read_text):
            return
        await asyncio.sleep(0.05)


async def test_the_shared_failure_recordings_are_classified_in_order(tmp_path: Path) -> None:
    """recording_fixtures' session (shared with the recording and replay tests), both sides."""
    recorded = await record_failures(tmp_path)
    client = trace_file(recorded.client)
    expected = [
        ("protocol", "input_audio_buffer_commit_empty"),
        ("model", "engine_failure"),
        ("tool", "tool_timeout"),
    ]
    assert _categories(client) == expected, client.findings
    assert not client.anomalies
    assert client.findings[0].server_rule == (
        "input_audio_buffer.commit: refused when the buffer holds less than 100 ms"
    )
    server = trace_file(recorded.server)
    assert _categories(server) == expected, server.findings  # it saw the tool's error output
    refused = trace_file(recorded.refused)
    assert _categories(refused) == [("connection", "invalid_api_key")], refused.findings
    assert "client secret" in refused.findings[0].next_step
