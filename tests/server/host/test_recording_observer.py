"""serve --record DIR: the server's recording of each session, written by a host observer."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from rtagents import connect
from rtagents.cli.main import build_parser
from rtagents.cli.serve import recorders, server_config
from rtagents.cli.settings import load_serve_settings
from rtagents.engines.scripted import scripted_engines
from rtagents.engines.scripted_voice import scripted_speech
from rtagents.observability.recording import RecordingReader, RecordingWriter
from rtagents.server.config import ServerConfig
from rtagents.server.host.recording_observer import SessionRecorder, session_recorders
from rtagents.server.serving import running_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "observability"))
from recording_fixtures import RULES, SESSION, record_failures, recording_server  # noqa: E402


def _of(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == kind]


async def test_one_file_per_session_with_frames_failures_marks_and_close(tmp_path: Path) -> None:
    recorded = await record_failures(tmp_path)
    assert [p.name for p in (tmp_path / "server").iterdir()] == [recorded.server.name]
    reader = RecordingReader(recorded.server)
    records = list(reader)
    assert reader.header.side == "server" and reader.header.session_id == recorded.session_id
    assert reader.header.model == "gpt-realtime"
    events = _of(records, "event")
    # The server sends first; each client frame comes before what handling it sent.
    assert events[0]["dir"] == "sent" and events[0]["event"]["type"] == "session.created"
    order = [(r["dir"], r["event"]["type"]) for r in events]
    update = order.index(("received", "session.update"))
    assert order[update + 1] == ("sent", "session.updated")
    commit = order.index(("received", "input_audio_buffer.commit"))
    assert order[commit + 1] == ("sent", "error")
    failures = {f["category"]: f for f in _of(records, "failure")}
    assert failures["protocol"]["code"] == "input_audio_buffer_commit_empty"
    assert failures["protocol"]["origin"] == "remote"  # the client's fault, seen by the server
    assert failures["protocol"]["detail"]["event_type"] == "input_audio_buffer.commit"
    assert failures["model"]["code"] == "engine_failure"
    assert "timed out" in failures["tool"]["message"]
    assert len(_of(records, "failure")) == 3  # each once: the error reply is not a second one
    names = {m["name"] for m in _of(records, "mark")}
    assert {"first_text", "first_token", "response_done"} <= names
    assert _of(records, "close")[-1]["by"] == "client"
    assert records[-1]["kind"] == "close"


async def test_the_client_and_server_recordings_hold_the_same_events(tmp_path: Path) -> None:
    recorded = await record_failures(tmp_path)

    def frames(path: Path, direction: str) -> list[str]:
        return [
            r["event"]["type"]
            for r in RecordingReader(path)
            if r["kind"] == "event" and r["dir"] == direction
        ]

    assert frames(recorded.client, "sent") == frames(recorded.server, "received")
    assert frames(recorded.client, "received") == frames(recorded.server, "sent")


def test_a_connection_that_starts_no_session_leaves_no_file(tmp_path: Path) -> None:
    host: Any = type("Host", (), {"session_id": "sess_x"})()
    recorder = SessionRecorder(host, tmp_path)
    recorder.on_closed(1000, "", "client")  # closed before any event: no greeting was sent
    assert list(tmp_path.iterdir()) == []


def test_hooks_after_the_close_write_nothing_and_do_not_fail(tmp_path: Path) -> None:
    """The recorder lets go of its host at the close (the pair was a reference cycle):
    a hook that still comes after it finds nothing to write."""
    fields = {"session_id": "sess_z", "frames_read": 1, "frame": "{}", "frame_event": None}
    host: Any = type("Host", (), fields)()
    host.sent_frame = '{"type":"session.created"}'
    recorder = SessionRecorder(host, tmp_path)
    created: Any = type("Created", (), {"type": "session.created"})()
    recorder.on_sent(created, None)
    recorder.on_closed(1000, "", "client")
    recorder.on_sent(created, None)
    recorder.on_received(None)  # type: ignore[arg-type]
    recorder.on_turn(None)
    [path] = tmp_path.glob("*.jsonl")
    kinds = [r["kind"] for r in RecordingReader(path)]
    assert kinds == ["event", "event", "close"]  # the frame in hand, the greeting, the close


def test_serve_record_flag_adds_the_recording_observer(tmp_path: Path) -> None:
    parse = build_parser().parse_args
    settings = load_serve_settings(
        parse(["serve", "--record", str(tmp_path), "--record-audio", "beside"])
    )
    host: Any = type("Host", (), {"session_id": "sess_y"})()
    observers = server_config(settings, "sk-test").observers
    [make] = [m for m in observers if m.__qualname__.startswith("session_recorders.")]
    recorder = make(host)
    assert isinstance(recorder, SessionRecorder)
    assert recorder._audio == "beside"
    assert recorders(load_serve_settings(parse(["serve"]))) == ()


async def test_a_folder_that_cannot_be_written_leaves_the_session_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    async with recording_server(blocker / "recordings") as server:
        async with connect(server.ws_url, credentials=server.api_key, session=SESSION) as session:
            done = asyncio.create_task(session.wait_for("response.done", timeout=30))
            await asyncio.sleep(0)
            await session.send_text("hello")
            await session.create_response()
            assert (await done).response.status == "completed"
    assert "cannot record session" in caplog.text


def test_a_write_that_fails_stops_the_recording_not_the_session(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = RecordingWriter(tmp_path / "gone" / "x.jsonl", side="server")
    writer.event("sent", '{"type":"a"}', event_type="a")
    (tmp_path / "gone").rmdir()  # nothing written yet: the folder can go
    writer.connection_closed(1000, "", "client")  # flushes: the open fails
    writer.event("sent", '{"type":"b"}', event_type="b")  # dropped, no error
    writer.close()
    assert writer.closed and "recording to" in caplog.text


async def test_a_session_the_server_closes_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "server"
    async with recording_server(folder) as server:
        session = await connect(server.ws_url, credentials=server.api_key, session=SESSION)
    # The server shut down with the session open: it closed it with 1001.
    await session.close()
    [path] = folder.glob("*.jsonl")
    close = [r for r in RecordingReader(path) if r["kind"] == "close"]
    assert [(c["code"], c["by"]) for c in close] == [(1001, "server")]


async def test_appends_that_start_and_end_a_turn_go_in_runs_before_what_they_caused(
    tmp_path: Path,
) -> None:
    """The append whose handling emits speech_started (or speech_stopped) is written before
    those events, in an ``appends`` run like every other append, not parsed into a line of
    its own (the server knows it decoded: host.frame_event)."""
    folder = tmp_path / "server"
    config = ServerConfig(port=0, observers=(session_recorders(folder),))
    detection = {"type": "server_vad", "silence_duration_ms": 200, "create_response": False}
    voice = {**SESSION, "audio": {"input": {"turn_detection": detection}}}
    silence = bytes(48 * 300)
    audio = silence + scripted_speech("hi") + silence * 3
    async with running_server(config, scripted_engines(RULES, vad=True)) as server:
        async with connect(server.ws_url, credentials=server.api_key, session=voice) as session:
            stopped = asyncio.create_task(
                session.wait_for("input_audio_buffer.speech_stopped", timeout=30)
            )
            for offset in range(0, len(audio), 4800):  # 100 ms appends
                await session.append_audio(audio[offset : offset + 4800])
            await stopped
    [path] = folder.glob("*.jsonl")
    lines = path.read_text().splitlines()
    assert not [line for line in lines if '"type":"input_audio_buffer.append"' in line]
    assert any('"kind":"appends"' in line for line in lines)
    order = [(r["dir"], r["event"]["type"]) for r in RecordingReader(path) if r["kind"] == "event"]
    appends = order.count(("received", "input_audio_buffer.append"))
    assert appends == -(-len(audio) // 4800)  # every append, once
    for caused in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"):
        assert order[order.index(("sent", caused)) - 1] == (
            "received",
            "input_audio_buffer.append",
        )
