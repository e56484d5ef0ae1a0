"""CLI failures, run for real: one line on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection, connect

RTAGENTS = str(Path(sys.executable).with_name("rtagents"))


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RTAGENTS, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rtagents serve: ")
    return lines[0]


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0 and result.stdout.startswith("rtagents 0.")


def test_a_port_in_use_says_which_port_and_who_holds_it() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        line = _one_line_failure(_run("serve", "--engine", "scripted", "--port", str(port)))
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert f"held by pid {os.getpid()}" in line
    # The random key is only said once the port is ours.
    assert "API key" not in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--port", "99999"), "invalid --port"),
        (("--log-level", "LOUD"), "unknown log level 'LOUD'"),
        (("--api-key", "ek_123"), "an ek_ client secret cannot be a server API key"),
        (("--config", "/nonexistent/rtagents.toml"), "cannot read the config file"),
        (("--host", "192.0.2.1", "--port", "0"), "cannot listen on 192.0.2.1:0"),
    ],
)
def test_bad_settings_fail_in_one_line(args: tuple[str, ...], expected: str) -> None:
    line = _one_line_failure(_run("serve", "--engine", "scripted", *args))
    assert expected in line


def test_debug_level_shows_the_traceback() -> None:
    result = _run("serve", "--engine", "scripted", "--host", "192.0.2.1", "--port", "0")
    assert "Traceback" not in result.stderr
    debug = _run(
        "serve",
        "--engine",
        "scripted",
        "--host",
        "192.0.2.1",
        "--port",
        "0",
        "--log-level",
        "DEBUG",
    )
    assert debug.returncode != 0 and "cannot listen on" in debug.stderr
    assert "Traceback" in debug.stderr and "OSError" in debug.stderr


def test_json_logs_are_json_from_first_line_to_last(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [RTAGENTS, "serve", "--engine", "scripted", "--port", str(port), "--log-format", "json"]
        + ["--api-key", "sk-json"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ws = _connect_when_up(f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime", proc)
        with ws:
            for event in (
                {"type": "session.update", "session": {"type": "realtime"}},
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "hello there"}],
                    },
                },
                {"type": "response.create"},
            ):
                ws.send(json.dumps(event))
            while json.loads(ws.recv(timeout=30))["type"] != "response.done":
                pass
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    records = [json.loads(line) for line in err.splitlines()]  # every line is one object
    messages = [r["message"] for r in records]
    assert any(m.startswith("serving Realtime GA on ws://") for m in messages)
    assert "session started" in messages and any(m.startswith("session ended") for m in messages)
    assert any(r["logger"] == "rtagents.server.turns" for r in records)  # one line per turn
    assert not [r for r in records if r["logger"] == "rtagents.events"]  # events are DEBUG
    assert messages[-1] == "stopped" and proc.returncode == 0


def _connect_when_up(url: str, proc: subprocess.Popen[str]) -> ClientConnection:
    deadline = time.monotonic() + 60
    while True:
        try:
            return connect(url, additional_headers={"Authorization": "Bearer sk-json"})
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
