"""What the server gives the garbage collector to do, per session.

A full collection walks every tracked object outside the frozen start-up heap
and frees whatever sits in reference cycles, stopping every session of the
process meanwhile (``bench/load.py``'s ``gc max`` column, ``/metrics``'
``rtagents_gc_pause_seconds``). This bench counts the two things that make it
long, on the real server (uvicorn, loopback WebSocket, scripted engines,
server VAD) with the load bench's callers in a separate process:

- **live**: tracked objects per session while the sessions run (a census of
  ``gc.get_objects()`` in the middle of their turns, minus the census before);
- **cyclic garbage**: objects per ended session that only a full collection
  frees (``gc.DEBUG_SAVEALL`` with automatic collection off, then one
  collection after the sessions closed);
- **full collection**: how long ``gc.collect()`` took with the sessions live,
  right after the census's own collection (warm caches, nothing to free: a
  lower bound; under load the same heap takes several times longer).

Fewer of either means shorter pauses; the top types say where they come from.

Run: ``.venv/bin/python bench/gc_census.py [--sessions 20] [--turns 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections import Counter
from pathlib import Path

from rtagents.engines.scripted import scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

HERE = Path(__file__).resolve().parent
TURN_S = 2.0  # load_client.py: 20 appends of 100 ms a turn


def census() -> Counter[str]:
    gc.collect()
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


async def callers(server: RunningServer, sessions: int, turns: int) -> asyncio.Task[None]:
    """The load bench's callers in a child process; the task ends when they are done."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "gc_census_callers.py"),
        server.ws_url + "?model=gpt-realtime",
        server.api_key,
        str(sessions),
        str(turns),
    )

    async def finished() -> None:
        if await child.wait() != 0:
            raise RuntimeError("the callers' process failed (its output is above)")

    return asyncio.create_task(finished())


def top(counts: Counter[str], per: int, n: int) -> str:
    return "\n".join(f"  {v / per:7.1f} {k}" for k, v in counts.most_common(n))


async def measure(sessions: int, turns: int, shown: int) -> None:
    config = ServerConfig(port=0, session_cap_s=3600)
    async with running_server(config, scripted_engines()) as server:
        await (await callers(server, 1, 1))  # warm-up: imports, caches, first-use objects
        gc.freeze()  # as `rtagents serve` does once started
        before = census()
        running = await callers(server, sessions, turns)
        await asyncio.sleep(0.5 + TURN_S * (turns - 0.5))  # mid-way through the last turn
        live = census() - before
        started = time.perf_counter()
        gc.collect()
        full_ms = (time.perf_counter() - started) * 1000
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.disable()
        try:
            await running
            await asyncio.sleep(0.5)  # the server's side of each session winds down
            gc.collect()
            garbage = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    print(f"{sessions} sessions of {turns} turns, server VAD, scripted engines, callers apart")
    print(f"live tracked objects per session: {live.total() / sessions:.0f}")
    print(top(live, sessions, shown))
    print(f"cyclic garbage per ended session: {garbage.total() / sessions:.0f}")
    print(top(garbage, sessions, shown))
    print(f"full collection with the sessions live (warm, a lower bound): {full_ms:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--top", type=int, default=15, help="types shown for each count")
    args = parser.parse_args()
    asyncio.run(measure(args.sessions, args.turns, args.top))


if __name__ == "__main__":
    main()
