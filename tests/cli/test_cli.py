"""The command line, run for real: demo end to end, mint against a live server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rtagents.cli.main import build_parser, main
from rtagents.server.config import ServerConfig
from rtagents.server.runner import RunningServer, running_server


def test_demo_runs_the_whole_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"]) == 0
    turns = json.loads(capsys.readouterr().out)
    assert [t["kind"] for t in turns] == ["text", "audio", "tool"]
    assert all(t["status"] == "completed" for t in turns)
    assert "what time is it" in turns[1]["user"]
    assert turns[2]["tool_calls"] and "sunny" in turns[2]["assistant"]
    assert all(t["first_delta_ms"] is not None and t["audio_ms"] > 0 for t in turns)


def test_demo_prints_a_readable_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "turn 3 [tool]" in out and "get_weather" in out and "first delta" in out


@pytest.fixture
def live_server() -> Iterator[RunningServer]:
    """A server on its own loop in a thread, so the CLI can run its own asyncio.run."""
    ready: list[tuple[RunningServer, asyncio.AbstractEventLoop, asyncio.Event]] = []
    started = threading.Event()

    async def serve() -> None:
        stop = asyncio.Event()
        async with running_server(ServerConfig(port=0, api_key="sk-test")) as server:
            ready.append((server, asyncio.get_running_loop(), stop))
            started.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    try:
        assert started.wait(30), "server thread never started"
        yield ready[0][0]
    finally:
        if ready:
            _, loop, stop = ready[0]
            loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def test_mint_prints_a_secret(
    live_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "mint",
            "--url",
            live_server.http_url,
            "--api-key",
            "sk-test",
            "--ttl",
            "60",
            "--session",
            '{"type": "realtime"}',
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip().startswith("ek_")
    assert "expires at" in captured.err


def test_mint_with_a_wrong_key_says_so(
    live_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mint", "--url", live_server.http_url, "--api-key", "sk-wrong"]) == 1
    assert "connection" in capsys.readouterr().err


def test_mint_rejects_bad_session_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mint", "--api-key", "k", "--session", "{nope"]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_mint_without_a_key_explains(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RTAGENTS_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["mint", "--api-key", ""]) == 2
    assert "no API key" in capsys.readouterr().err


def test_serve_options_parse() -> None:
    args = build_parser().parse_args(
        ["serve", "--port", "0", "--session-cap", "5", "--log-format", "json"]
    )
    assert (args.port, args.session_cap, args.log_format) == (0, 5.0, "json")


def test_help_is_fast_and_lists_commands() -> None:
    script = Path(sys.executable).with_name("rtagents")
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    for command in ("serve", "mint", "demo"):
        assert command in out.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_starts_prints_its_key_and_answers_healthz() -> None:
    import time

    import httpx

    port = _free_port()
    script = Path(sys.executable).with_name("rtagents")
    proc = subprocess.Popen(
        [str(script), "serve", "--port", str(port), "--log-level", "WARNING"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "rtagents serve exited early"
                assert time.monotonic() < deadline, "rtagents serve never answered"
                time.sleep(0.1)
        assert reply.json()["status"] == "ok"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "this run's API key is sk-local-" in err
    assert "closing sessions with 1001" in err
    assert proc.returncode == 0


def test_serve_closes_open_sessions_with_1001_on_sigterm() -> None:
    import time

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect as ws_connect

    port = _free_port()
    script = Path(sys.executable).with_name("rtagents")
    proc = subprocess.Popen(
        [str(script), "serve", "--port", str(port), "--api-key", "sk-cli", "--log-level", "ERROR"],
        stderr=subprocess.DEVNULL,
    )
    url = f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ws = ws_connect(url, additional_headers={"Authorization": "Bearer sk-cli"})
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        with ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "session.created"
            proc.terminate()
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    finally:
        proc.terminate()
        proc.wait(timeout=15)
