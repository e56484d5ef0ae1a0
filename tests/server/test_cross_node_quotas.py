"""A per-key quota across ``rtagents serve --redis`` processes: one place, two nodes, a kill.

Two real server processes share one real Redis with ``--policy-concurrent-sessions
1``: a session open on node A refuses one on node B (429 before the upgrade,
naming the setting), the place comes back when that session ends, and a node
killed with its session open gives the place back once its liveness expires.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_kit import redis_server  # noqa: F401  (fixture)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from rtagents.testing.redis_server import RedisServer
from rtagents.testing.server_process import ServerProcess

WAIT_S = 15.0  # a killed node's liveness key expires within 2 s; a busy machine takes longer


@pytest.fixture
def nodes(
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    args = ["--redis", redis_server.url, "--policy-concurrent-sessions", "1"]
    with (
        ServerProcess(tmp_path / "a.log", api_key="sk-quota", args=args) as node_a,
        ServerProcess(tmp_path / "b.log", api_key="sk-quota", args=args) as node_b,
    ):
        yield node_a, node_b


async def open_session(node: ServerProcess) -> ClientConnection:
    headers = {"Authorization": f"Bearer {node.api_key}"}
    ws = await connect(node.ws_url + "?model=gpt-realtime", additional_headers=headers)
    assert json.loads(await ws.recv())["type"] == "session.created"
    return ws


async def refusal(node: ServerProcess) -> dict[str, str]:
    with pytest.raises(InvalidStatus) as refused:
        await open_session(node)
    response = refused.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    error: dict[str, str] = json.loads(response.body or b"")["error"]
    return error


async def admitted_within(node: ServerProcess, seconds: float) -> ClientConnection:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await open_session(node)
        except InvalidStatus as refused:
            if refused.response.status_code != 429 or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)


async def test_one_place_is_shared_by_two_processes(
    nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    node_a, node_b = nodes
    first = await open_session(node_a)
    error = await refusal(node_b)
    assert error["code"] == "concurrent_session_quota_exceeded"
    assert "policy.concurrent_sessions = 1" in error["message"]
    assert "counted across every server sharing this Redis" in error["message"]
    await first.close()

    second = await admitted_within(node_b, WAIT_S)  # the place came back from A
    assert (await refusal(node_a))["code"] == "concurrent_session_quota_exceeded"
    await second.close()
    for node in nodes:
        assert node.crash_lines() == [], node.crash_report()


async def test_a_killed_node_gives_its_place_back(
    nodes: tuple[ServerProcess, ServerProcess],
) -> None:
    node_a, node_b = nodes
    held = await open_session(node_b)
    assert (await refusal(node_a))["code"] == "concurrent_session_quota_exceeded"
    node_b.kill9()  # its session dies with it, never released
    after_kill = await admitted_within(node_a, WAIT_S)
    await after_kill.close()
    await held.close()
    assert node_a.crash_lines() == [], node_a.crash_report()
