"""Agents layer: what it costs per turn, and how fast a handoff speaks.

1. Overhead per turn: the same text turn (scripted engine, text reply) on a
   bare client session (``send_text`` + ``create_response`` + wait for
   ``response.done``) and on an agent session (``send_text``, wait for
   ``agent_end``, with the events read as an app would), alternating turn by
   turn in one run against one in-process server. Prints p50/p90 of each and
   the ratio agent/bare.
2. Handoff to first audio: an agent hands off (greeter <-> haiku writer, audio
   replies); the clock runs from the handoff's function call arriving at the
   client to the next agent's first ``audio`` event (the answer to the call,
   the ``session.update`` that switches agents and the new response).

Run: ``.venv/bin/python bench/agents.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from collections import Counter
from typing import Any

from rtagents import connect
from rtagents.agents import Agent, AgentSession, Runner, handoff
from rtagents.client import Session
from rtagents.engines.scripted import CallTool, Rule, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

TEXT = {"type": "realtime", "output_modalities": ["text"]}
AUDIO = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {"input": {"turn_detection": None}},
}
RULES = [
    Rule(when=re.compile("haiku"), then=CallTool("transfer_to_haiku_writer")),
    Rule(when=re.compile("greeter"), then=CallTool("transfer_to_greeter")),
]
TIMEOUT_S = 30.0


def agents() -> tuple[Agent[Any], Agent[Any]]:
    haiku = Agent(name="Haiku Writer", instructions="Write haikus.")
    greeter = Agent(name="Greeter", instructions="Greet.", handoffs=[haiku])
    haiku.handoffs.append(handoff(greeter, tool_name_override="transfer_to_greeter"))
    return greeter, haiku


class Reader:
    """Reads agent events like an app; wakes waiters by event type, with arrival times."""

    def __init__(self, session: AgentSession[Any]) -> None:
        self.seen: list[tuple[float, Any]] = []
        self.counts: Counter[str] = Counter()
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(self._read(session))

    async def _read(self, session: AgentSession[Any]) -> None:
        async for event in session:
            self.seen.append((time.perf_counter(), event))
            self.counts[event.type] += 1
            self._changed.set()

    async def wait(self, kind: str, count: int) -> None:
        async with asyncio.timeout(TIMEOUT_S):
            while self.counts[kind] < count:
                self._changed.clear()
                await self._changed.wait()


async def bare_turn(session: Session, n: int) -> float:
    started = time.perf_counter()
    done = asyncio.ensure_future(session.wait_for("response.done", timeout=TIMEOUT_S))
    await session.send_text(f"hello {n}")
    await session.create_response()
    await done
    return (time.perf_counter() - started) * 1000


async def agent_turn(session: AgentSession[Any], reader: Reader, n: int) -> float:
    ends = reader.counts["agent_end"]
    started = time.perf_counter()
    await session.send_text(f"hello {n}")
    await reader.wait("agent_end", ends + 1)
    return (time.perf_counter() - started) * 1000


async def overhead(server: RunningServer, turns: int) -> tuple[list[float], list[float]]:
    bare_ms: list[float] = []
    agent_ms: list[float] = []
    greeter, _ = agents()
    runner = Runner(
        greeter, url=server.ws_url, credentials=server.api_key, model="gpt-realtime", config=TEXT
    )
    async with connect(
        server.ws_url,
        credentials=server.api_key,
        model="gpt-realtime",
        session=TEXT,
        reconnect=True,
    ) as bare:
        agent_session = await runner.run()
        async with agent_session:
            reader = Reader(agent_session)
            for n in range(3):  # warm both paths up
                await bare_turn(bare, n)
                await agent_turn(agent_session, reader, n)
            for n in range(turns):
                bare_ms.append(await bare_turn(bare, n))
                agent_ms.append(await agent_turn(agent_session, reader, n))
    return bare_ms, agent_ms


async def handoffs(server: RunningServer, count: int) -> list[float]:
    greeter, haiku = agents()
    runner = Runner(
        greeter, url=server.ws_url, credentials=server.api_key, model="gpt-realtime", config=AUDIO
    )
    session = await runner.run()
    times: list[float] = []
    async with session:
        reader = Reader(session)
        for n in range(count):
            target = "haiku" if session.current_agent is greeter else "greeter"
            mark = len(reader.seen)
            await session.send_text(f"switch to {target}")
            await reader.wait("handoff", n + 1)
            await reader.wait("agent_end", 2 * (n + 1))
            window = reader.seen[mark:]
            called = next(
                t
                for t, e in window
                if e.type == "raw_model_event"
                and e.event.type == "response.function_call_arguments.done"
            )
            switched_at = next(i for i, (_, e) in enumerate(window) if e.type == "handoff")
            first_audio = next(t for t, e in window[switched_at:] if e.type == "audio")
            times.append((first_audio - called) * 1000)
    return times


def row(name: str, values: list[float]) -> str:
    p50 = statistics.median(values)
    p90 = statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0]
    return f"{name:<28}{p50:>9.2f}{p90:>9.2f}{len(values):>7}"


async def main(quick: bool) -> None:
    turns, count = (20, 4) if quick else (300, 40)
    engines = scripted_engines(RULES, vad=False)
    async with running_server(ServerConfig(port=0), engines) as server:
        bare_ms, agent_ms = await overhead(server, turns)
        handoff_ms = await handoffs(server, count)
    print(f"{'':<28}{'p50 ms':>9}{'p90 ms':>9}{'n':>7}")
    print(row("bare session text turn", bare_ms))
    print(row("agent session text turn", agent_ms))
    print(row("handoff call -> first audio", handoff_ms))
    ratio = statistics.median(agent_ms) / statistics.median(bare_ms)
    extra = statistics.median(agent_ms) - statistics.median(bare_ms)
    print(f"agent/bare p50 ratio: {ratio:.2f} ({extra:+.2f} ms per turn)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    asyncio.run(main(parser.parse_args().quick))
