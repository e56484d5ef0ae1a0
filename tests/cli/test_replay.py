"""rtagents replay: a recording made against a scripted server replays without divergence on a
fresh one, and a changed server is caught at the response that changed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from rtagents.cli.main import main
from rtagents.cli.replay import ReplayReport, replay
from rtagents.cli.replay_plan import plan_from
from rtagents.client.opening import realtime_url
from rtagents.engines.scripted import CallTool, Rule, Say
from rtagents.observability.recording import RecordingWriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "observability"))
from recording_fixtures import RULES, record_failures, recording_server  # noqa: E402

# The fixture's rules with the first reply changed: "hello" gets another answer.
CHANGED = [Rule(when="hello", then=Say("a different greeting")), *RULES]


async def _replay(
    path: Path, rules: list[Rule] | None = None, key: str | None = None
) -> ReplayReport:
    plan = plan_from(path)
    async with recording_server(path.parent / "replayed", rules) as server:
        url = realtime_url(server.ws_url, plan.header.model)
        return await replay(plan, url, api_key=key or server.api_key, wait_s=30)


async def test_client_and_server_recordings_replay_without_divergence(tmp_path: Path) -> None:
    recorded = await record_failures(tmp_path)
    for path in (recorded.client, recorded.server):
        report = await _replay(path)
        assert report.divergences == []
        assert report.sent == len(report.plan.steps) == 12
        assert len(report.received) == len(report.plan.server_events)
        # The failures were reproduced, not merely absent on both sides.
        codes = {e["error"]["code"] for e in report.received if e["type"] == "error"}
        assert codes == {"input_audio_buffer_commit_empty", "engine_failure"}
        failed = [e for e in report.received if e["type"] == "response.done"]
        assert [e["response"]["status"] for e in failed].count("failed") == 1


async def test_a_changed_reply_is_reported_at_its_response(tmp_path: Path) -> None:
    recorded = await record_failures(tmp_path)
    report = await _replay(recorded.client, CHANGED)
    first, *later = report.divergences
    assert first.startswith("response 1 (recorded as resp_")
    assert "event 5 response.output_text.delta: delta: recorded 'You ', replayed 'a '" in first
    # Later responses differ only through the changed history (its token count).
    assert all("usage" in line and not line.startswith("response 1") for line in later)


async def test_a_changed_failure_is_reported_where_it_happens(tmp_path: Path) -> None:
    recorded = await record_failures(tmp_path)
    rules = [
        Rule(when="break", then=Say("no failure today")),
        Rule(when="order", then=CallTool("lookup_order", {"order": "42"})),
    ]
    report = await _replay(recorded.server, rules)
    first, *later = report.divergences
    assert first.startswith("response 2 (recorded as resp_")
    assert first.endswith("event 2 error: recorded error, replayed response.output_item.added")
    assert all("usage" in line for line in later)  # the history changed from there on


async def test_a_refused_session_replays_as_refused(tmp_path: Path) -> None:
    recorded = await record_failures(tmp_path)
    same = await _replay(recorded.refused, key="sk-also-wrong")
    assert same.divergences == []
    assert "reproduced: the session was refused (invalid_api_key)" in same.notes
    opened = await _replay(recorded.refused)
    [divergence] = opened.divergences
    assert divergence.startswith("connection: the recording's session was refused")


async def test_the_command_exits_1_on_divergence_0_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = await record_failures(tmp_path)
    for rules, status in ((None, 0), (CHANGED, 1)):
        async with recording_server(tmp_path / "cli", rules) as server:
            argv = ["replay", str(recorded.client), "--url", server.ws_url]
            argv += ["--api-key", server.api_key, "--pace", "recorded"]
            assert await asyncio.to_thread(main, argv) == status
    out = capsys.readouterr().out
    assert "no divergence (ids, times and audio bytes ignored)" in out
    assert "DIVERGED (" in out and "response 1 (recorded as resp_" in out


def test_a_file_that_is_not_a_recording_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "notes.jsonl"
    other.write_text('{"hello": "world"}\n')
    assert main(["replay", str(other), "--url", "ws://127.0.0.1:9"]) == 2
    assert "is not an rtagents recording" in capsys.readouterr().err


def test_the_plan_sends_a_resent_frame_once_and_notes_a_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "resumed.jsonl"
    writer = RecordingWriter(path, side="client")
    created = '{"type":"session.created","session":{"id":"sess_1"}}'
    update = '{"type":"session.update","event_id":"evt_1","session":{}}'
    writer.event("received", created, event_type="session.created", seq=1)
    writer.event("sent", update, event_type="session.update", seq=1)
    writer.event("sent", '{"type":"response.create"}', event_type="response.create", seq=2)
    writer.event("sent", update, event_type="session.update", seq=1)  # resent after a resume
    writer.event("received", created, event_type="session.created", seq=1)  # a rebuild
    writer.event("sent", update, event_type="session.update", seq=1)
    writer.close()
    plan = plan_from(path)
    assert [step.frame["type"] for step in plan.steps] == [  # type: ignore[index]
        "session.update",
        "response.create",
        "session.update",
    ]
    assert "1 frames sent again after a resume were replayed once" in plan.notes
    assert any("spans 2 server sessions" in note for note in plan.notes)
