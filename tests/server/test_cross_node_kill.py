"""Cross-node resume under ``kill -9``: three ``rtagents serve --redis`` processes, one Redis.

One SDK session runs tool turns (scenario rules make the scripted model call
``get_weather`` when the user says "weather"; the app's tool answers). At a
random moment of each turn the node holding the session is killed with
SIGKILL, mid-response, often with a tool call in flight; the client, whose
opener fails over between the nodes' ports, resumes on another node, which
rebuilds the session from its Redis log. The dead node is restarted (a fresh
process, a new node id) while the session goes on.

Checked after every run: the client resumed every time and never rebuilt;
its conversation equals the server's item by item (``conversation.item.retrieve``
on the node that holds it now); no item twice; every finished tool call ran
exactly once and has exactly one output; no event was delivered twice. A
response the kill cut ends ``failed`` (``node_lost``) and the app asks again.

Plain pytest runs a slice of 10 kills; ``RTAGENTS_CROSS_NODE=full`` runs 100
(``RTAGENTS_CROSS_NODE_KILLS=N`` any number), ``RTAGENTS_CROSS_NODE_SEED``
replays a run's timing. The resume time after each kill (kill to
``rtagents.resumed``) is printed, median and p95.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from cross_node_kit import RULES, App
from redis_kit import redis_server  # noqa: F401  (fixture)

from rtagents.testing.redis_server import RedisServer
from rtagents.testing.server_process import ServerProcess, free_port

FULL = os.environ.get("RTAGENTS_CROSS_NODE") == "full"
KILLS = int(os.environ.get("RTAGENTS_CROSS_NODE_KILLS", "100" if FULL else "10"))
SEED = int(os.environ.get("RTAGENTS_CROSS_NODE_SEED", str(random.randrange(2**32))))
NODES = 3  # the killed node restarts while the session goes on on the others


@pytest.fixture
def nodes(
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811
) -> Iterator[list[ServerProcess]]:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    args = ["--redis", redis_server.url, "--scenario-rules", str(rules), "--resume-grace", "30"]
    started: list[ServerProcess] = []
    try:
        for name in "abc"[:NODES]:
            node = ServerProcess(tmp_path / f"node-{name}.log", api_key="sk-cross", args=args)
            node.start()
            started.append(node)
        yield started
    finally:
        for node in started:
            node.stop()


def _holder(nodes: list[ServerProcess], app: App) -> ServerProcess:
    """The node the client's live connection goes to (the last one it dialed)."""
    port = app.opener.dialed[-1]
    return next(node for node in nodes if node.port == port)


@pytest.mark.timeout(3600 if FULL else 600)
async def test_a_session_survives_kill_9_of_its_node_every_time(
    nodes: list[ServerProcess],
) -> None:
    rng = random.Random(SEED)
    app = App(nodes, SEED + 1)
    kill_times: list[float] = []
    restarts: list[asyncio.Task[None]] = []
    phases: Counter[str] = Counter()
    started = time.monotonic()
    async with app.connect() as session:
        await app.setup(session)
        for turn in range(KILLS):
            asking = asyncio.create_task(app.turn(session, turn))
            await app.moment(session, rng)
            holder = _holder(nodes, app)
            resumes = len(app.resumed_at)
            phases[app.phase(session)] += 1
            kill_times.append(time.monotonic())
            await asyncio.to_thread(holder.kill9)
            await asking  # the turn is answered, on the other node if the kill cut it
            while len(app.resumed_at) == resumes:  # noqa: ASYNC110 (the SDK tells by event)
                await asyncio.sleep(0.01)
            # back as a fresh node (a new node id) while the session goes on elsewhere
            restarts.append(asyncio.create_task(asyncio.to_thread(_restart, holder, app)))
            await _without_a_failed_restart(restarts)
        await app.verify(session)
        await asyncio.gather(*restarts)
    took = [after - kill for kill, after in zip(kill_times, app.resumed_at, strict=True)]
    elapsed = time.monotonic() - started
    print(
        f"\ncross-node kills (RTAGENTS_CROSS_NODE_SEED={SEED}): {KILLS} kill -9 "
        f"({dict(phases)}), {dict(app.stats)} in {elapsed:.1f} s; resume after a kill: median "
        f"{statistics.median(took) * 1000:.0f} ms, p95 {_p95(took) * 1000:.0f} ms"
    )
    assert app.stats["resumed"] == KILLS and app.stats["rebuilt"] == 0
    assert app.stats["turns"] == KILLS
    for node in nodes:
        assert node.crash_lines() == [], node.crash_report()


def _restart(node: ServerProcess, app: App) -> None:
    """Start ``node`` again on its port, or on a new one if that port was taken meanwhile
    (free ports are ephemeral ones: a client connection may have got it as its own)."""
    try:
        node.start()
    except RuntimeError:
        if node.process is not None:  # exited, or never listened: gone either way
            node.process.kill()
            node.process.wait()
            node.process = None
        app.stats["restarted on a new port"] += 1  # printed with the run's counts
        old = node.port
        node.port = free_port()
        app.opener.ports[app.opener.ports.index(old)] = node.port
        node.start()


async def _without_a_failed_restart(restarts: list[asyncio.Task[None]]) -> None:
    """Wait for all but the latest restart (two nodes must be up for the next kill)."""
    for restart in restarts[:-1]:
        await restart


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
