"""The command line, run for real: demo end to end, mint against a live server."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtagents.cli.main import build_parser, main
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server


def _demo_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(["demo", "--json", *args]) == 0
    out = capsys.readouterr().out
    turns: list[dict[str, Any]] = json.loads(out[out.index("[") :])
    return turns


def _wav_seconds(path: str) -> float:
    with wave.open(path) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24_000)
        return wav.getnframes() / 24_000


def test_demo_speaks_each_question_and_reports_the_breakdown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    turns = _demo_json(capsys, "--engine", "scripted", "--out", str(tmp_path))
    assert len(turns) == 2
    for turn in turns:
        assert turn["status"] == "completed" and not turn["errors"]
        # The scripted STT decodes the tone code exactly; the echo model repeats it.
        assert turn["heard"] == turn["question"]
        assert turn["question"] in turn["reply"]
        assert _wav_seconds(turn["wav"]) == pytest.approx(turn["reply_audio_ms"] / 1000)
        assert turn["first_audio_ms"] is not None and turn["first_token_ms"] is not None


def test_demo_report_is_readable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "--engine", "scripted", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "warming up the scripted engines" in out
    for label in ("heard:", "assistant:", "reply wav:", "first LLM token", "first audio"):
        assert label in out


def test_demo_with_the_local_voice_pipeline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The README's main command: real Piper speech in, Whisper, SmolLM2, Piper out."""
    turns = _demo_json(capsys, "--out", str(tmp_path))
    for turn in turns:
        assert turn["status"] == "completed" and not turn["errors"]
        asked = set(re.findall(r"[a-z]+", turn["question"].lower()))
        heard = set(re.findall(r"[a-z]+", turn["heard"].lower()))
        assert len(asked & heard) >= len(asked) - 1, (asked, heard)
        assert turn["reply"] and _wav_seconds(turn["wav"]) > 0.5


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


def _serve_settings(*flags: str) -> Any:
    from rtagents.cli.settings import load_serve_settings

    return load_serve_settings(build_parser().parse_args(["serve", *flags]))


def test_serve_options_parse() -> None:
    settings = _serve_settings("--port", "0", "--session-cap", "5", "--log-format", "json")
    assert (settings.port, settings.session_cap, settings.log_format) == (0, 5.0, "json")


def test_serve_network_options_reach_the_server_config() -> None:
    from rtagents.cli.serve import server_config

    settings = _serve_settings(
        "--ice-server", "stun:stun.example.org:3478", "--ice-server", "turn:t.example",
        "--webrtc-loopback", "--resume-grace", "5", "--no-console", "--host", "0.0.0.0",
    )  # fmt: skip
    config = server_config(settings, "sk-test")
    assert config.ice_servers == ["stun:stun.example.org:3478", "turn:t.example"]
    assert config.webrtc_loopback and config.resume_grace_s == 5.0
    assert config.console is False and config.host == "0.0.0.0"
    default = server_config(_serve_settings(), "sk-test")
    assert default.ice_servers == [] and not default.webrtc_loopback
    assert default.resume_grace_s == 30.0 and default.console is None


def test_serve_engine_options_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RTAGENTS_LLM_URL", raising=False)
    monkeypatch.delenv("RTAGENTS_LLM_MODEL", raising=False)
    settings = _serve_settings()
    assert (settings.engine, settings.llm_url, settings.llm_model, settings.stt_threads) == (
        "local",
        None,
        None,
        2,
    )
    settings = _serve_settings(
        "--engine", "scripted", "--llm-url", "http://h:1", "--llm-model", "m", "--stt-threads", "1"
    )
    assert (settings.engine, settings.llm_url, settings.llm_model, settings.stt_threads) == (
        "scripted",
        "http://h:1",
        "m",
        1,
    )


async def test_serve_builds_the_engines_its_flags_name() -> None:
    from rtagents.cli.serve import engines_for
    from rtagents.engines.local.openai_compat import OpenAICompatLLM

    settings = _serve_settings("--llm-url", "http://127.0.0.1:9/v1", "--llm-model", "qwen3")
    async with engines_for(settings) as engines:
        assert engines.name == "local" and isinstance(engines.llm, OpenAICompatLLM)
        assert engines.labels["llm"] == "qwen3 at http://127.0.0.1:9/v1/chat/completions"
    async with engines_for(_serve_settings("--engine", "scripted")) as other:
        assert other.name == "scripted"


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
        [str(script), "serve", "--port", str(port), "--engine", "scripted"]
        + ["--log-level", "INFO"],
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
        assert reply.status_code == 200 and reply.json()["status"] == "ready"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "this run's API key is sk-local-" in err
    assert "closing sessions with 1001" in err
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("grace", "code"),
    [(None, 1012), ("0", 1001)],  # a drain tells clients to resume elsewhere; no grace: going away
)
def test_serve_closes_open_sessions_on_sigterm(grace: str | None, code: int) -> None:
    import time

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect as ws_connect

    port = _free_port()
    script = Path(sys.executable).with_name("rtagents")
    proc = subprocess.Popen(
        [str(script), "serve", "--port", str(port), "--api-key", "sk-cli", "--engine", "scripted"]
        + ["--log-level", "ERROR"]
        + ([] if grace is None else ["--drain-grace", grace]),
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
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    finally:
        proc.terminate()
        proc.wait(timeout=15)
