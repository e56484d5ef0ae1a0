"""Drain across real processes: SIGTERM node A under 50 live sessions; every one moves to B.

Two ``rtagents serve`` processes stand for two nodes behind a load balancer;
the balancer is the clients' opener, which (like a balancer's health check)
routes each connection to the first node that takes it: A while it serves, B
once A refuses (503 ``server_draining``) or is gone. Without shared state B
cannot resume A's sessions and each client rebuilds its session there; with
both nodes on one Redis each session is handed off and resumed on B.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from rtagents import connect
from rtagents.client import ReconnectPolicy, Session
from rtagents.client.opening import open_transport
from rtagents.protocol.errors import ConnectionFailure
from rtagents.testing.redis_server import MISSING_REASON, RedisServer, redis_binary
from rtagents.testing.server_process import ServerProcess
from rtagents.transports.base import Transport

SESSIONS = 50
GRACE_S = 30.0
TEXT = {"type": "realtime", "output_modalities": ["text"]}
POLICY = ReconnectPolicy(max_attempts=12, base_delay=0.05, max_delay=1.0, rollover_margin=None)
WAIT_S = 120.0  # generous: CI's two cores run both servers and 50 clients


class Balancer:
    """Routes every connection to the first node that accepts it (URLs swapped by port)."""

    def __init__(self, nodes: list[ServerProcess]) -> None:
        self.nodes = nodes
        self.routed: Counter[int] = Counter()

    async def __call__(
        self, url: str, headers: Mapping[str, str], open_timeout: float
    ) -> Transport:
        failure: ConnectionFailure | None = None
        for node in self.nodes:
            target = url.replace(self.nodes[0].ws_url, node.ws_url, 1)
            try:
                transport = await open_transport(target, headers, open_timeout)
            except ConnectionFailure as exc:
                if getattr(exc, "status", 503) != 503:  # a refused resume (404) is the client's
                    raise
                failure = exc  # draining (503) or not listening: the next node
                continue
            self.routed[node.port] += 1
            return transport
        assert failure is not None
        raise failure


class Caller:
    """One app session: a turn, then (after the drain moved it) another turn."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.moved = asyncio.Event()
        self.how: list[str] = []
        self.answers: list[str] = []
        self._done: asyncio.Future[str] | None = None
        session.on("rtagents.resumed", self._resumed)
        session.on("response.done", self._response_done)

    def _resumed(self, event: Any) -> None:
        self.how.append("rebuilt" if event.rebuilt else "resumed")
        self.moved.set()

    def _response_done(self, event: Any) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(event.response.status)

    async def turn(self, text: str) -> None:
        self._done = asyncio.get_running_loop().create_future()
        await self.session.send_text(text)
        await self.session.create_response()
        self.answers.append(await asyncio.wait_for(self._done, WAIT_S))


async def _call(node_a: ServerProcess, balancer: Balancer, on_air: asyncio.Queue[Caller]) -> Caller:
    async with connect(
        node_a.ws_url,
        credentials=node_a.api_key,
        model="gpt-realtime",
        session=TEXT,
        reconnect=POLICY,
        transport=balancer,
        open_timeout=10.0,
    ) as session:
        caller = Caller(session)
        await caller.turn("hello before the drain")
        await on_air.put(caller)
        await asyncio.wait_for(caller.moved.wait(), WAIT_S)
        await caller.turn("hello after the drain")
        assert session.failure is None, session.failure
        return caller


@pytest.fixture(params=["memory", "redis"])
def shared_state(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """The nodes' flags: nothing shared, or one real Redis (skipped where it is missing)."""
    if request.param == "memory":
        yield []
        return
    if redis_binary() is None:
        pytest.skip(MISSING_REASON)
    with RedisServer() as redis:
        yield ["--redis", redis.url]


async def test_sigterm_moves_50_live_sessions_to_the_other_node_and_exits_0(
    tmp_path: Path, shared_state: list[str]
) -> None:
    grace = ["--drain-grace", str(GRACE_S), *shared_state]
    node_a = ServerProcess(tmp_path / "a.log", args=grace)
    node_b = ServerProcess(tmp_path / "b.log", api_key=node_a.api_key, args=grace)
    node_a.start()
    node_b.start()
    try:
        balancer = Balancer([node_a, node_b])
        on_air: asyncio.Queue[Caller] = asyncio.Queue()
        calls = [asyncio.create_task(_call(node_a, balancer, on_air)) for _ in range(SESSIONS)]
        for _ in range(SESSIONS):  # every session live on A, one turn answered
            await asyncio.wait_for(on_air.get(), WAIT_S)
        assert balancer.routed == {node_a.port: SESSIONS}
        assert node_a.process is not None
        node_a.process.send_signal(signal.SIGTERM)
        callers = await asyncio.gather(*calls)
        exit_code = await asyncio.to_thread(node_a.process.wait, GRACE_S + 30)
    finally:
        node_a.stop()
        node_b.stop()
    assert exit_code == 0
    assert all(c.answers == ["completed", "completed"] for c in callers)
    moved = [c.how for c in callers]
    assert moved == [["resumed" if shared_state else "rebuilt"]] * SESSIONS  # once each
    assert balancer.routed[node_b.port] >= SESSIONS
    log_a = node_a.log_path.read_text()
    assert "drained: every session has left this node" in log_a
    assert not node_a.crash_lines() and not node_b.crash_lines()
