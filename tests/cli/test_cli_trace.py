"""``rtagents trace``: text, JSON and HTML output, and the exit status a CI step gates on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rtagents.cli.main import main
from rtagents.observability.recording import RecordingWriter


def _recording(path: Path, *, fail: bool) -> Path:
    """A text turn answered by one response; with ``fail``, a second response.create refused."""
    now = [0.0]
    writer = RecordingWriter(path, side="client", clock=lambda: now[0])
    item = {"id": "item_1", "type": "message", "role": "user", "content": []}
    writer.event("received", {"type": "conversation.item.added", "item": item})
    now[0] = 0.1
    writer.event("sent", {"type": "response.create", "event_id": "evt_1"})
    writer.event("received", {"type": "response.created", "response": {"id": "resp_1"}})
    if fail:
        writer.event("sent", {"type": "response.create", "event_id": "evt_2"})
        error = {
            "type": "invalid_request_error",
            "code": "conversation_already_has_active_response",
            "message": "Conversation already has an active response in progress: resp_1.",
            "event_id": "evt_2",
        }
        writer.event("received", {"type": "error", "error": error})
    now[0] = 0.4
    done = {"id": "resp_1", "status": "completed"}
    writer.event("received", {"type": "response.done", "response": done})
    writer.close()
    return path


def test_a_clean_recording_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _recording(tmp_path / "ok.jsonl", fail=False)
    assert main(["trace", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Failures: none" in out and "Result: no failures" in out
    assert (
        "user message → transcript — → first token — → first text — → first audio — → done 400 ms"
        in out
    )


def test_failures_exit_1_and_name_the_rule_and_next_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _recording(tmp_path / "bad.jsonl", fail=True)
    assert main(["trace", str(path)]) == 1
    out = capsys.readouterr().out
    assert (
        "protocol: [conversation_already_has_active_response] "
        "response.create while a response was active" in out
    )
    assert "next:    wait for response.done" in out
    assert "(exit status 1)" in out


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _recording(tmp_path / "bad.jsonl", fail=True)
    assert main(["trace", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] is True
    [finding] = report["findings"]
    assert (finding["category"], finding["code"]) == (
        "protocol",
        "conversation_already_has_active_response",
    )
    assert report["turns"][0]["waterfall_ms"]["done"] == 400.0


def test_html_report_is_written_and_self_contained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _recording(tmp_path / "bad.jsonl", fail=True)
    out = tmp_path / "report.html"
    assert main(["trace", str(path), "--html", str(out)]) == 1
    page = out.read_text()
    assert '<svg id="waterfall"' in page and '<svg id="timeline"' in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page and "https://" not in page
    assert "The plots show the first" not in page  # one turn: nothing left out
    assert f"HTML report: {out}" in capsys.readouterr().out


def test_a_file_that_is_not_a_recording_exits_2_with_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "server.log"
    log.write_text("INFO started\n")
    assert main(["trace", str(log)]) == 2
    assert "not an rtagents recording" in capsys.readouterr().err
    assert main(["trace", str(tmp_path / "missing.jsonl")]) == 2
    good = _recording(tmp_path / "ok.jsonl", fail=False)
    assert main(["trace", str(good), "--html", str(tmp_path / "no" / "dir" / "r.html")]) == 2
    assert "cannot write the HTML report" in capsys.readouterr().err


def test_the_installed_command_gates_on_the_exit_status(tmp_path: Path) -> None:
    path = _recording(tmp_path / "bad.jsonl", fail=True)
    command = [sys.executable, "-m", "rtagents.cli.main", "trace", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stderr
    assert "protocol:" in result.stdout
