"""Chaos with crashes: network faults and ``kill -9`` of the server process, tools in flight.

A real ``rtagents serve --engine scripted`` process (scenario rules make the
scripted model call ``get_weather`` whenever the user says "weather") sits
behind a :class:`FaultProxy` that gives each new TCP connection a random
fault: a reset, a stall, or a half-closed direction, at a random byte. Now and
then the server process itself is killed with SIGKILL mid-response and
started again on the same port, so every session on it is gone.

Conversations of audio-answered text and tool turns run through all of it.
After a fault the client resumes; after a kill it cannot (the process that
held the session is dead) and rebuilds the session on the new process from
its mirror. The invariants checked, per conversation, at the end:

- the client's conversation and the server's are identical, item by item
  (every mirror item is fetched back from the server with
  ``conversation.item.retrieve`` and compared), with no item twice;
- each tool call ran exactly once (never again after a resume or rebuild) and
  every call in the conversation has exactly one output;
- every event the app received was delivered once (no event_id twice).

A turn a kill interrupted is lost with the process (the model's reply was
never finished); the app notices the rebuild and asks again, which is what a
real app must do too. Plain pytest runs a 200-fault slice;
``RTAGENTS_CHAOS=full`` runs at least 1,000 (``RTAGENTS_CHAOS_KILL_FAULTS=N``
any number), ``RTAGENTS_CHAOS_SEED`` replays a run's fault plans.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_kill_kit import Conversation
from resilience_kit import fired_faults, replayable

from rtagents.testing.faults import FaultProxy, RandomFaults
from rtagents.testing.server_process import ServerProcess

FULL = os.environ.get("RTAGENTS_CHAOS") == "full"
FAULTS = int(os.environ.get("RTAGENTS_CHAOS_KILL_FAULTS", "1000" if FULL else "200"))
SEED = int(os.environ.get("RTAGENTS_CHAOS_SEED", str(random.randrange(2**32))))
PARALLEL = 6
KILL_EVERY_S = (1.0, 4.0)  # a kill -9 at a random moment in this window after the last
RULES = """
[[rules]]
name = "weather"
keywords = ["weather"]
call = "get_weather"
arguments = { city = "Paris" }
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    args = ["--scenario-rules", str(rules), "--resume-grace", "30"]
    with ServerProcess(tmp_path / "server.log", api_key="sk-chaos", args=args) as process:
        yield process


async def _killer(server: ServerProcess, rng: random.Random, kills: Counter[str]) -> None:
    """Kill -9 and restart the server at random moments until cancelled."""
    while True:
        await asyncio.sleep(rng.uniform(*KILL_EVERY_S))
        await asyncio.to_thread(server.restart)
        kills["kill -9"] += 1


async def _unless_killer_fails(
    killer: asyncio.Task[None], runs: list[Coroutine[Any, Any, Counter[str]]]
) -> list[Counter[str]]:
    """The runs' results; the killer's exception instead if it failed (the server did not
    come back), so the cause is reported rather than the clients' timeouts."""
    round_ = asyncio.ensure_future(asyncio.gather(*runs))
    await asyncio.wait({round_, killer}, return_when=asyncio.FIRST_COMPLETED)
    if killer.done():
        round_.cancel()
        await asyncio.gather(round_, return_exceptions=True)
        killer.result()
    return await round_


@pytest.mark.timeout(3600 if FULL else 600)
async def test_conversations_survive_faults_and_kills(server: ServerProcess) -> None:
    with replayable(SEED):
        rng = random.Random(SEED)
        chaos = RandomFaults(
            rng=random.Random(SEED + 1),
            probability=0.8,
            kinds=("cut", "half_close", "stall"),
            max_byte=30_000,
            max_stall_ms=1500,
        )
        kills: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        started = time.monotonic()
        async with FaultProxy(("127.0.0.1", server.port), chaos=chaos) as proxy:
            killer = asyncio.create_task(_killer(server, rng, kills))
            try:
                rounds = 0
                while sum(fired_faults(proxy).values()) + kills["kill -9"] < FAULTS:
                    seeds = [SEED + rounds * PARALLEL + i for i in range(PARALLEL)]
                    conversations = [Conversation(server, proxy, seed) for seed in seeds]
                    for stats in await _unless_killer_fails(
                        killer, [c.run() for c in conversations]
                    ):
                        totals.update(stats)
                    rounds += 1
            finally:
                killer.cancel()
                await asyncio.gather(killer, return_exceptions=True)
            fired = fired_faults(proxy) + kills
        elapsed = time.monotonic() - started
        print(
            f"\nchaos with kills (RTAGENTS_CHAOS_SEED={SEED}): {sum(fired.values())} faults "
            f"({dict(fired)}) over {len(proxy.connections)} connections, {server.starts} server "
            f"starts, in {elapsed:.1f} s; {dict(totals)}"
        )
        assert sum(fired.values()) >= FAULTS
        assert kills["kill -9"] > 0 and totals["rebuilt"] > 0 and totals["resumed"] > 0
        assert server.crash_lines() == [], server.crash_report()
