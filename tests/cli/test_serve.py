"""``rtagents serve`` as a process: its log quotes client text at the configured bound."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from rtagents.testing.server_process import ServerProcess, free_port


async def test_the_log_and_the_reply_cut_client_text_at_limit_quoted_chars(
    tmp_path: Path,
) -> None:
    server = ServerProcess(tmp_path / "serve.log", args=["--limit-quoted-chars", "8"])
    server.start()
    try:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        async with connect(f"{server.ws_url}?model=gpt-realtime", additional_headers=headers) as ws:
            for _ in range(2):  # session.created, conversation.created
                await ws.recv()
            await ws.send(json.dumps({"type": "z" * 100 + "\n05:00:00.000 CRITICAL forged"}))
            error = json.loads(await ws.recv())["error"]
    finally:
        server.stop()
    assert error["message"].startswith("Unknown event type 'zzzzzzzz…' (129 chars).")
    logged = server.log_path.read_text()
    assert "'zzzzzzzz…' (129 chars)" in logged
    assert "\n05:00:00.000" not in logged and "z" * 9 not in logged


async def test_metrics_port_serves_metrics_there_and_not_on_the_main_port(
    tmp_path: Path,
) -> None:
    metrics_port = free_port()
    server = ServerProcess(tmp_path / "serve.log", args=["--metrics-port", str(metrics_port)])
    server.start()
    try:
        async with httpx.AsyncClient() as http:
            own = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
            main = await http.get(
                f"{server.http_url}/metrics",
                headers={"Authorization": f"Bearer {server.api_key}"},
            )
    finally:
        server.stop()
    assert own.status_code == 200
    names = {family.name for family in text_string_to_metric_families(own.text)}
    assert {"rtagents_sessions_active", "rtagents_turn_latency_seconds"} <= names
    assert main.status_code == 404
    assert f"Prometheus metrics on http://127.0.0.1:{metrics_port}/metrics" in server.tail()


async def _sweep_logged(server: ServerProcess, *, hold_s: float) -> bool:
    """Hold one session ``hold_s``, close it, then wait for the collector's idle sweep."""
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with connect(server.ws_url, additional_headers=headers) as ws:
        await ws.recv()
        await asyncio.sleep(hold_s)  # a second's tick freezes the live session's objects
    for _ in range(100):  # the sweep comes on the next tick with no session; 10 s at most
        if "collector sweep" in server.log_path.read_text():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_serve_sweeps_the_collector_once_its_sessions_have_ended(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "serve.log", args=["--log-level", "debug"])
    server.start()
    try:
        assert await _sweep_logged(server, hold_s=2.5)  # two ticks at least, one live
    finally:
        server.stop()
    assert "0 live sessions" in server.log_path.read_text()


async def test_gc_sweep_0_leaves_the_collector_alone(tmp_path: Path) -> None:
    args = ["--log-level", "debug", "--gc-sweep", "0"]
    server = ServerProcess(tmp_path / "serve.log", args=args)
    server.start()
    try:
        assert not await _sweep_logged(server, hold_s=1.5)
    finally:
        server.stop()
