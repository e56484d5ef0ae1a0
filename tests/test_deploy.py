"""deploy/: the compose file agrees with the server and the balancer, and the balancer's
config, run by a real HAProxy in front of two real nodes and Redis, moves every session
off a node that drains (a redeploy) with none failing: each resumes on the other node."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rtagents import connect
from rtagents.client import ReconnectPolicy, Session
from rtagents.testing.redis_server import MISSING_REASON, RedisServer, redis_binary
from rtagents.testing.server_process import ServerProcess, free_port

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
NODES = ("node1", "node2")
SESSIONS = 20
WAIT_S = 120.0
TEXT = {"type": "realtime", "output_modalities": ["text"]}
POLICY = ReconnectPolicy(max_attempts=12, base_delay=0.05, max_delay=1.0, rollover_margin=None)


def _compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def _seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m)?", value).groups()  # type: ignore[union-attr]
    return float(number) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[unit]


def test_each_node_shares_redis_and_drains_within_its_stop_grace() -> None:
    services = _compose()["services"]
    assert set(services) == {"redis", "lb", *NODES}
    for name in NODES:
        node = services[name]
        env = node["environment"]
        assert env["RTAGENTS_REDIS"].endswith("@redis:6379/0")
        # Compose kills the container stop_grace_period after SIGTERM: the drain must end first.
        assert float(env["RTAGENTS_DRAIN_GRACE"]) + 5 <= _seconds(node["stop_grace_period"])
        assert node["stop_signal"] == "SIGTERM" and node["init"] is True
        assert "/healthz" in " ".join(node["healthcheck"]["test"])
        assert node["depends_on"]["redis"]["condition"] == "service_healthy"
        assert env["RTAGENTS_CONSOLE"] == "false"
    assert "ports" not in services["redis"]  # Redis is never published
    assert "--requirepass" in services["redis"]["command"]


def test_the_balancer_routes_to_every_node_on_its_port_with_health_checks_and_retries() -> None:
    config = (DEPLOY / "haproxy.cfg").read_text()
    port = _compose()["services"]["node1"]["environment"]["RTAGENTS_PORT"]
    servers = re.findall(r"^\s*server (\S+) (\S+)$", config, re.MULTILINE)
    assert servers == [(name, f"{name}:{port}") for name in NODES]
    assert "http-check expect status 200" in config and "uri /healthz" in config
    assert re.search(r"retry-on .*\b503\b", config)  # a draining node's refusal is retried
    assert "balance leastconn" in config and "cookie" not in config  # no stickiness
    tunnel = re.search(r"timeout tunnel (\S+)", config)
    assert tunnel is not None and _seconds(tunnel.group(1)) > 3600  # the 60-minute cap


def _local_haproxy_config(listen: int, nodes: list[ServerProcess]) -> str:
    """deploy/haproxy.cfg with loopback addresses instead of compose's DNS names."""
    config = (DEPLOY / "haproxy.cfg").read_text()
    config = config.replace("bind :8080", f"bind 127.0.0.1:{listen}")
    config = config.replace("maxconn 20000", "maxconn 2000")  # a test machine's fd limit
    config = config.replace(" resolvers docker init-addr last,libc,none", "")
    config = config.split("# Docker's embedded DNS")[0]
    for name, node in zip(NODES, nodes, strict=True):
        config = config.replace(
            f"server {name} {name}:8000", f"server {name} 127.0.0.1:{node.port}"
        )
    # Faster checks than production's: the test waits on them.
    return config.replace(
        "check inter 2s fall 2 rise 2 slowstart 10s", "check inter 200ms fall 1 rise 1"
    )


@pytest.fixture
def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if found is None:
        pytest.skip("haproxy is not installed (Debian's haproxy package); the static checks ran")
    return found


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    if redis_binary() is None:
        pytest.skip(MISSING_REASON)
    with RedisServer() as server:
        yield server


@dataclass
class Deployment:
    nodes: list[ServerProcess]
    url: str  # the balancer's Realtime URL


@pytest.fixture
def deployment(tmp_path: Path, haproxy_binary: str, redis: RedisServer) -> Iterator[Deployment]:
    """Two nodes sharing ``redis`` behind HAProxy running deploy/haproxy.cfg."""
    args = ["--redis", redis.url, "--drain-grace", "20"]
    nodes = [ServerProcess(tmp_path / f"{name}.log", args=args) for name in NODES]
    nodes[1].api_key = nodes[0].api_key
    listen = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(_local_haproxy_config(listen, nodes))
    balancer: subprocess.Popen[bytes] | None = None
    try:
        for node in nodes:  # serving before the balancer's first check, which then finds them up
            node.start()
        with (tmp_path / "haproxy.log").open("wb") as log:
            balancer = subprocess.Popen(
                [haproxy_binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + WAIT_S
        while not _accepting(listen):
            assert balancer.poll() is None, (tmp_path / "haproxy.log").read_text()
            assert time.monotonic() < deadline, "haproxy did not listen"
            time.sleep(0.05)
        yield Deployment(nodes, f"ws://127.0.0.1:{listen}/v1/realtime")
    finally:
        if balancer is not None:
            balancer.terminate()
            balancer.wait(10)
        for node in nodes:
            node.stop()


def _accepting(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


async def _sessions_on(node: ServerProcess) -> int:
    async with httpx.AsyncClient() as http:
        sessions: int = (await http.get(node.http_url + "/healthz")).json()["sessions"]
        return sessions


async def _turn(session: Session, text: str) -> str:
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def finished(event: Any) -> None:
        if not done.done():
            done.set_result(event.response.status)

    session.on("response.done", finished)
    await session.send_text(text)
    await session.create_response()
    return await asyncio.wait_for(done, WAIT_S)


async def _caller(url: str, key: str, live: asyncio.Queue[None], gone: asyncio.Event) -> list[str]:
    """One turn, then (once node1 has exited) another; the reconnects it made are appended."""
    async with connect(
        url, credentials=key, model="gpt-realtime", session=TEXT, reconnect=POLICY
    ) as session:
        how: list[str] = []
        session.on("rtagents.resumed", lambda e: how.append("rebuilt" if e.rebuilt else "resumed"))
        answers = [await _turn(session, "before the redeploy")]
        await live.put(None)
        await gone.wait()
        answers.append(await _turn(session, "after the redeploy"))
        assert session.failure is None, session.failure
        return answers + how


async def test_a_redeployed_node_drains_through_haproxy_and_no_session_fails(
    deployment: Deployment,
) -> None:
    nodes = deployment.nodes
    live: asyncio.Queue[None] = asyncio.Queue()
    gone = asyncio.Event()
    key = nodes[0].api_key
    calls = [asyncio.create_task(_caller(deployment.url, key, live, gone)) for _ in range(SESSIONS)]
    for _ in range(SESSIONS):
        await asyncio.wait_for(live.get(), WAIT_S)
    on_first = await _sessions_on(nodes[0])
    assert on_first > 0 and await _sessions_on(nodes[1]) > 0  # leastconn spread them
    assert nodes[0].process is not None
    nodes[0].process.terminate()  # what compose sends a node it redeploys
    exit_code = await asyncio.to_thread(nodes[0].process.wait, WAIT_S)
    gone.set()
    outcomes = await asyncio.gather(*calls)
    assert exit_code == 0
    assert all(outcome[:2] == ["completed", "completed"] for outcome in outcomes), outcomes
    moves = [outcome[2:] for outcome in outcomes]
    assert sum(len(m) for m in moves) == on_first  # node1's sessions moved, once each
    assert {how for m in moves for how in m} == {"resumed"}  # handed off, resumed on node2
    assert "drained: every session has left this node" in nodes[0].tail(1_000_000)
    assert not nodes[0].crash_lines() and not nodes[1].crash_lines()
