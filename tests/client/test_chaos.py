"""Chaos: the resilient client through a fault-injecting proxy to a real rtagents server.

Many short conversations (text turns, audio appends + commits with audio
replies, tool calls) run at once through :class:`FaultProxy`, which gives each
new TCP connection a random fault (cut, half-close, stall, delay, fragment) at
a random byte. Every conversation must survive all of them: it resumes, its
mirror equals the server's conversation item by item, every tool call ran
exactly once, and no frame was lost or delivered twice (the client received
exactly the frames the server sent, and the server exactly the client's).

``RTAGENTS_CHAOS_FAULTS`` raises the number of faults (default 500);
``RTAGENTS_CHAOS_SEED`` replays a run.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from resilience_kit import RULES, fast_opener, fired_faults, replayable

from rtagents import connect
from rtagents.client import ReconnectPolicy, Session
from rtagents.engines.scripted import scripted_engines, scripted_speech
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.faults import Fault, FaultProxy, RandomFaults

FAULTS = int(os.environ.get("RTAGENTS_CHAOS_FAULTS", "500"))
SEED = int(os.environ.get("RTAGENTS_CHAOS_SEED", str(random.randrange(2**32))))
PARALLEL = 8
TURNS = 6
WAIT_S = 30.0
CONFIG = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}},
}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}}
POLICY = ReconnectPolicy(max_attempts=12, base_delay=0.01, max_delay=0.1, rollover_margin=None)


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0), scripted_engines(RULES, vad=False)) as s:
        yield s


class TwoFaults:
    """Each connection: maybe a degrading fault (delay, fragment), then maybe a breaking
    one (cut, half-close, stall), each at a random byte; so most connections end in a
    fault and every conversation goes through several reconnects."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.degrade = RandomFaults(
            rng=rng, probability=0.7, kinds=("delay", "fragment"), max_byte=16_000
        )
        self.breaks = RandomFaults(
            rng=rng,
            probability=0.9,
            kinds=("cut", "half_close", "stall"),
            max_byte=40_000,
            max_stall_ms=1500,
        )

    def plan(self) -> list[Fault]:
        return self.degrade.plan() + self.breaks.plan()


def _done_responses(session: Session) -> int:
    return sum(1 for r in session.conversation.responses.values() if r.status != "in_progress")


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _turn(session: Session, rng: random.Random, turn: int) -> str:
    kind = rng.choice(["text", "audio", "tool"])
    before = _done_responses(session)
    if kind == "audio":
        audio = scripted_speech(f"hi {turn}")
        step = rng.choice([2400, 4800, 9600])
        for start in range(0, len(audio), step):
            await session.append_audio(audio[start : start + step])
        await session.commit_audio()
    else:
        await session.send_text("weather please" if kind == "tool" else f"hello {turn}")
    await session.create_response()
    expected = before + (2 if kind == "tool" else 1)
    await _until(lambda: _done_responses(session) >= expected, f"{kind} turn {turn}")
    return kind


def _items(conversation: Any) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True) for item in conversation.items]


async def _conversation(server: RunningServer, proxy: FaultProxy, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    stats: Counter[str] = Counter()
    delivered: Counter[str] = Counter()
    async with connect(
        proxy.url(),
        credentials=server.api_key,
        model="gpt-realtime",
        session=CONFIG,
        reconnect=POLICY,
        transport=fast_opener,
        stall_timeout=1.0,
        open_timeout=2.0,
    ) as session:
        session.on("*", lambda e: delivered.update([e.event_id] if e.event_id else []))
        session.on(
            "rtagents.resumed", lambda e: stats.update(["rebuilt" if e.rebuilt else "resumed"])
        )

        @session.tools.register(parameters=WEATHER)
        async def get_weather(city: str) -> dict[str, str]:
            return {"city": city, "forecast": "sunny"}

        await session.update_session({"type": "realtime", "tools": session.tools.definitions()})
        for turn in range(TURNS):
            stats[await _turn(session, rng, turn)] += 1
        host = next(h for h in server_state(server.app).sessions if h.id == session.session_id)

        def settled() -> bool:
            live = session.connection
            return (
                live is not None
                and live.received == host.frames_emitted
                and live.sent == host.received_frames
                and _items(session.conversation) == _items(host.conversation)
            )

        await _until(settled, "client and server to agree")
        assert len(session.tools.runs) == stats["tool"]  # one call per tool turn
        assert set(session.tools.runs.values()) <= {1}  # each ran exactly once
        calls = [i.call_id for i in session.conversation.items if i.type == "function_call"]
        assert sorted(calls) == sorted(session.tools.runs)
        outputs = [
            i.call_id for i in session.conversation.items if i.type == "function_call_output"
        ]
        assert sorted(outputs) == sorted(calls)
        assert [i for i, n in delivered.items() if n > 1] == []
        for item_id in session.conversation.item_ids:
            assert session.conversation.audio_ms(item_id) == host.conversation.audio_ms(item_id)
        stats["items"] += len(session.conversation)
        stats["tool_runs"] += len(session.tools.runs)
        assert session.connection is not None
        stats["frames_down"] += session.connection.received
        stats["frames_up"] += session.connection.sent
    return stats


@pytest.mark.timeout(max(300, FAULTS // 5))
async def test_every_conversation_survives_random_faults(server: RunningServer) -> None:
    with replayable(SEED):
        port = urlsplit(server.ws_url).port
        assert port is not None
        chaos: Any = TwoFaults(SEED)  # duck-typed like RandomFaults: plan() per connection
        totals: Counter[str] = Counter()
        started = time.monotonic()
        async with FaultProxy(("127.0.0.1", port), chaos=chaos) as proxy:
            rounds = 0
            while sum(fired_faults(proxy).values()) < FAULTS:
                seeds = [SEED + rounds * PARALLEL + i for i in range(PARALLEL)]
                results = await asyncio.gather(*(_conversation(server, proxy, s) for s in seeds))
                for stats in results:
                    totals.update(stats)
                totals["conversations"] += PARALLEL
                rounds += 1
            fired = fired_faults(proxy)
            connections = len(proxy.connections)
        elapsed = time.monotonic() - started
        print(
            f"\nchaos seed={SEED}: {sum(fired.values())} faults fired ({dict(fired)}) over "
            f"{connections} connections in {elapsed:.1f} s; {dict(totals)}"
        )
        assert sum(fired.values()) >= FAULTS
        assert totals["resumed"] + totals["rebuilt"] > 0
