"""``rtagents serve --workers 2`` as real processes on one port and one real Redis.

Checked: the workers share the port (connections land on both), a secret minted
through either is good on the other, a worker killed with SIGKILL is replaced,
and SIGTERM on the parent drains every worker (sessions closed 1012) and exits 0;
workers whose parent was killed (nothing forwarded) drain and exit on their own.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from rtagents.server.drain import SERVICE_RESTART
from rtagents.server.workers import CRASH_LOOP_DEATHS, WORKER_ENV, WorkerGroup
from rtagents.testing.redis_server import MISSING_REASON, RedisServer, redis_binary
from rtagents.testing.server_process import ServerProcess, free_port

pytestmark = pytest.mark.skipif(redis_binary() is None, reason=MISSING_REASON)
WAIT_S = 90.0  # two workers start at once on CI's two loaded cores
SERVING = "serving Realtime GA on"


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def children(pid: int) -> set[int]:
    """The worker processes of the ``--workers`` parent ``pid`` (Linux /proc)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def sockets(pid: int) -> int:
    """Open sockets of process ``pid``: a worker's grows by one per connection it took."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue  # closed meanwhile
    return count


def until(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def serving_lines(server: ServerProcess) -> int:
    return server.tail(1_000_000).count(SERVING)


async def _session(server: ServerProcess, secret: str) -> ClientConnection:
    headers = {"Authorization": f"Bearer {secret}"}
    ws = await ws_connect(f"{server.ws_url}?model=gpt-realtime", additional_headers=headers)
    assert json.loads(await ws.recv())["type"] == "session.created"
    return ws


async def _mint(server: ServerProcess) -> str:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with httpx.AsyncClient(base_url=server.http_url, headers=headers) as http:
        answer = await http.post("/v1/realtime/client_secrets", json={})
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["value"]
    return value


async def _closed_with(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        while True:
            await ws.recv()
    return ws.close_code


def test_workers_without_redis_is_refused_with_what_to_do(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "serve.log", args=["--workers", "2"])
    with pytest.raises(RuntimeError, match="exited with 2"):
        server.start()
    assert "--workers 2 needs --redis URL" in server.tail()


def test_workers_that_cannot_start_stop_the_group_at_once(tmp_path: Path) -> None:
    """A worker refusing its settings (here: no Redis at --redis) is not restarted in a loop."""
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    server = ServerProcess(
        tmp_path / "serve.log", args=["--workers", "2", "--redis", nothing_there]
    )
    with pytest.raises(RuntimeError, match="exited with 1"):
        server.start()
    log = server.tail(1_000_000)
    assert "cannot use Redis at" in log and "could not start (status 2)" in log
    assert "restarting" not in log


async def test_two_workers_share_port_and_secrets_replace_a_dead_one_and_drain_on_sigterm(
    tmp_path: Path, redis: RedisServer
) -> None:
    args = ["--workers", "2", "--redis", redis.url, "--drain-grace", "20"]
    server = ServerProcess(tmp_path / "serve.log", args=args)
    server.start()
    try:
        until(lambda: serving_lines(server) == 2, "both workers serving")
        workers = children(server.pid)
        assert len(workers) == 2
        before = {pid: sockets(pid) for pid in workers}
        # Each secret is minted on whichever worker the kernel picks, and used on
        # whichever it picks next: 16 sessions surely cross workers both ways.
        secrets = [await _mint(server) for _ in range(16)]
        sessions = [await _session(server, secret) for secret in secrets]
        took = {pid: sockets(pid) - before[pid] for pid in workers}
        assert all(count > 0 for count in took.values()), took  # both took connections
        for ws in sessions:
            await ws.close()

        os.kill(min(workers), signal.SIGKILL)
        until(lambda: len(children(server.pid) - workers) == 1, "a replacement worker")
        until(lambda: serving_lines(server) == 3, "the replacement serving")

        sessions = [await _session(server, server.api_key) for _ in range(8)]
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(_closed_with(ws) for ws in sessions))
        exit_code = await asyncio.to_thread(server.process.wait, WAIT_S)
    finally:
        server.stop()
    assert codes == [SERVICE_RESTART] * len(sessions)
    assert exit_code == 0
    log = server.tail(1_000_000)
    assert "restarting" in log and "workers stopped (1 restarts)" in log
    assert not server.crash_lines()


def test_workers_drain_and_exit_when_their_parent_is_killed(
    tmp_path: Path, redis: RedisServer
) -> None:
    server = ServerProcess(tmp_path / "serve.log", args=["--workers", "2", "--redis", redis.url])
    server.start()
    try:
        until(lambda: serving_lines(server) == 2, "both workers serving")
        workers = children(server.pid)
        server.kill9()  # no signal is forwarded: the workers see their stdin pipe close
        until(lambda: not any(_running(pid) for pid in workers), "the workers to exit")
    finally:
        server.stop()
    assert server.tail().count("the --workers parent is gone; draining") == 2


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit status waits for init to reap it)."""
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_a_worker_serves_its_metrics_on_the_metrics_port_plus_its_index(tmp_path: Path) -> None:
    """Workers cannot share --metrics-port (each has its own registry): worker i takes PORT + i."""
    metrics = free_port()
    while _port_taken(metrics + 1):
        metrics = free_port()
    port = free_port()
    command = [sys.executable, "-m", "rtagents.cli.main", "serve", "--engine", "scripted"]
    command += ["--port", str(port), "--metrics-port", str(metrics), "--api-key", "sk-test"]
    env = {**os.environ, WORKER_ENV: "1"}
    with (tmp_path / "worker.log").open("wb") as log:
        # stdin is the parent's pipe: a worker whose stdin closes drains and exits.
        worker = subprocess.Popen(
            command, env=env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        until(lambda: _port_taken(metrics + 1) and _port_taken(port), "the worker listening")
        answer = httpx.get(f"http://127.0.0.1:{metrics + 1}/metrics", timeout=10)
        assert answer.status_code == 200 and "rtagents_" in answer.text
        assert not _port_taken(metrics)
    finally:
        assert worker.stdin is not None
        worker.stdin.close()  # as if the parent died: the worker drains and exits
        assert worker.wait(WAIT_S) == 0


async def test_a_worker_that_keeps_dying_young_stops_the_group_after_five_deaths() -> None:
    dies = [sys.executable, "-c", "raise SystemExit(3)"]
    group = WorkerGroup(dies, 1, dict(os.environ), stop_within_s=1.0, restart_pause_s=0.01)
    assert await group.run() == 1
    assert group.restarts == CRASH_LOOP_DEATHS - 1  # five lives, the last not restarted
