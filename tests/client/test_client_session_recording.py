"""connect(..., record=PATH): the client's recording of a real session against a scripted server."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from rtagents import connect
from rtagents.client.session_recording import SessionRecording
from rtagents.client.webrtc_call import WebRTCCall
from rtagents.engines.scripted import scripted_engines
from rtagents.observability.recording import RecordingReader, read_records
from rtagents.protocol.errors import ConnectionFailure
from rtagents.server.config import ServerConfig
from rtagents.server.host.recording_observer import session_recorders
from rtagents.server.serving import running_server

# The fixture builder lives with the recording tests; pytest only puts this file's folder
# on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "observability"))
from recording_fixtures import TOOL_TIMEOUT_S, record_failures  # noqa: E402


def _kinds(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == kind]


async def test_every_frame_failure_mark_and_the_close_are_recorded(tmp_path: Path) -> None:
    recorded = await record_failures(tmp_path)
    reader = RecordingReader(recorded.client)
    records = list(reader)
    assert reader.header.side == "client" and reader.header.transport == "websocket"
    events = _kinds(records, "event")
    sent = [r["event"]["type"] for r in events if r["dir"] == "sent"]
    assert sent[0] == "session.update" and "input_audio_buffer.commit" in sent
    assert [r["seq"] for r in events if r["dir"] == "sent"] == list(range(1, len(sent) + 1))
    received = [r for r in events if r["dir"] == "received"]
    assert received[0]["event"]["type"] == "session.created"
    assert received[-1]["session_id"] == recorded.session_id
    failures = {f["category"]: f for f in _kinds(records, "failure")}
    assert failures["protocol"]["code"] == "input_audio_buffer_commit_empty"
    assert failures["protocol"]["origin"] == "local"  # the client sent something wrong
    assert failures["model"]["code"] == "engine_failure"
    assert failures["tool"]["message"] == f"'lookup_order' timed out after {TOOL_TIMEOUT_S:g} s"
    marks = {(m["name"]) for m in _kinds(records, "mark")}
    assert {"first_text", "response_done"} <= marks
    [close] = _kinds(records, "close")
    assert (close["code"], close["by"]) == (1000, "client")
    states = [(r["from"], r["to"]) for r in _kinds(records, "lifecycle")]
    assert states[0] == ("idle", "authenticating") and states[-1] == ("closing", "closed")


async def test_audio_is_elided_and_no_credential_is_written(tmp_path: Path) -> None:
    recorded = await record_failures(tmp_path)
    text = recorded.client.read_text()
    [append] = [
        r["event"]
        for r in read_records(recorded.client)
        if r["kind"] == "event" and r["event"]["type"] == "input_audio_buffer.append"
    ]
    assert append["audio"]["elided"] is True and append["audio"]["bytes"] == 4800
    assert "Bearer" not in text and "sk-local" not in text and "sk-wrong" not in text
    for line in recorded.refused.read_text().splitlines():
        assert "sk-wrong" not in json.dumps(json.loads(line))


async def test_a_refused_handshake_is_a_connection_failure(tmp_path: Path) -> None:
    recorded = await record_failures(tmp_path)
    records = list(read_records(recorded.refused))
    [failure] = _kinds(records, "failure")
    assert failure["category"] == "connection" and failure["code"] == "invalid_api_key"
    assert failure["detail"] == {"step": "open"}
    assert records[-1]["kind"] == "lifecycle" and records[-1]["to"] == "failed"


async def test_a_connection_that_never_opens_is_recorded_as_a_connection_failure(
    tmp_path: Path,
) -> None:
    path = tmp_path / "no-server.jsonl"
    with pytest.raises(ConnectionFailure):
        await connect("ws://127.0.0.1:9/v1/realtime", credentials="sk-x", record=path)
    [failure] = [r for r in read_records(path) if r["kind"] == "failure"]
    assert failure["category"] == "connection" and failure["detail"] == {"step": "open"}
    assert "127.0.0.1:9" in failure["message"]


def test_a_resent_frame_keeps_its_number_and_a_new_session_numbers_from_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "numbers.jsonl"
    recording = SessionRecording(path, url="ws://127.0.0.1:9/v1/realtime?model=m")
    update = '{"type":"session.update","event_id":"evt_1","session":{}}'
    frames = [
        ("received", '{"type":"session.created","session":{"id":"sess_1"}}'),
        ("sent", update),
        ("sent", '{"type":"response.create","event_id":"evt_2"}'),
        ("sent", update),  # sent again on a resumed connection
        ("received", '{"type":"session.created","session":{"id":"sess_2"}}'),  # a rebuild
        ("sent", update),
    ]
    for direction, text in frames:
        recording.frame(direction, text, "websocket")  # type: ignore[arg-type]
    recording.writer.close()
    events = [r for r in read_records(path) if r["kind"] == "event"]
    assert [(r["dir"], r["seq"]) for r in events] == [
        ("received", 1),
        ("sent", 1),
        ("sent", 2),
        ("sent", 1),
        ("received", 1),
        ("sent", 1),
    ]
    assert events[-1]["session_id"] == "sess_2"
    assert RecordingReader(path).header.model == "m"


async def test_a_webrtc_call_is_recorded_on_both_sides(tmp_path: Path) -> None:
    config = ServerConfig(
        port=0, webrtc_loopback=True, observers=(session_recorders(tmp_path / "server"),)
    )
    path = tmp_path / "call.jsonl"
    async with running_server(config, scripted_engines()) as server:
        call = WebRTCCall(
            loopback=True, session={"type": "realtime", "output_modalities": ["text"]}
        )
        async with connect(
            server.http_url, credentials=server.api_key, transport=call, record=path
        ) as session:
            done = asyncio.create_task(session.wait_for("response.done", timeout=30))
            await asyncio.sleep(0)
            await session.send_text("hello over webrtc")
            await session.create_response()
            await done
    client = RecordingReader(path)
    [server_path] = (tmp_path / "server").glob("*.jsonl")
    served = RecordingReader(server_path)
    assert client.header.transport == served.header.transport == "webrtc"

    def types(reader: RecordingReader, direction: str) -> list[str]:
        return [
            r["event"]["type"]
            for r in reader
            if r["kind"] == "event" and r["dir"] == direction and r["transport"] == "webrtc"
        ]

    assert "response.done" in types(client, "received")
    assert types(client, "sent") == types(served, "received")
