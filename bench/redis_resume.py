"""What the Redis resume log costs a resumable session: turn latency, memory against Redis.

With ``--redis`` every frame of a resumable session is written to Redis
before it is sent (server/stores/redis_resume_log.py), so the client sees
each event one Redis round trip later, batched. This measures it where a
client feels it: a text turn (``conversation.item.create`` +
``response.create`` to the first ``response.output_text.delta`` and to
``response.done``) over a real loopback WebSocket, on an in-process server
with the scripted engines, resume opted in. Rounds alternate memory and Redis
(ABAB) in the same run against one real redis-server started here; medians
and p95 per setup, and the ratio.

Run: ``.venv/bin/python bench/redis_resume.py`` (``--turns N --rounds N``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from websockets.asyncio.client import connect

from rtagents.engines.scripted import scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server
from rtagents.testing.redis_server import RedisServer

TEXT = {"type": "realtime", "output_modalities": ["text"]}


async def _turns(redis_url: str | None, turns: int) -> tuple[list[float], list[float]]:
    config = ServerConfig(port=0, redis_url=redis_url, api_key="sk-bench")
    first: list[float] = []
    done: list[float] = []
    async with running_server(config, scripted_engines()) as server:
        headers = {"Authorization": f"Bearer {server.api_key}", "X-Rtagents-Resume": "1"}
        async with connect(f"{server.ws_url}?model=gpt-realtime", additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "session.update", "session": TEXT}))
            while json.loads(await ws.recv())["type"] != "session.updated":
                pass
            for turn in range(turns):
                item = {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"hello {turn}"}],
                }
                started = time.perf_counter()
                await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
                await ws.send(json.dumps({"type": "response.create"}))
                seen_first = False
                while True:
                    kind = json.loads(await ws.recv())["type"]
                    if kind == "response.output_text.delta" and not seen_first:
                        first.append(time.perf_counter() - started)
                        seen_first = True
                    if kind == "response.done":
                        done.append(time.perf_counter() - started)
                        break
    return first, done


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def main(turns: int, rounds: int) -> None:
    results: dict[str, tuple[list[float], list[float]]] = {"memory": ([], []), "redis": ([], [])}
    with RedisServer() as redis:
        for _ in range(rounds):
            for name, url in (("memory", None), ("redis", redis.url)):
                first, done = await _turns(url, turns)
                results[name][0].extend(first)
                results[name][1].extend(done)
    for name, (first, done) in results.items():
        print(
            f"{name:6}: first delta median {statistics.median(first) * 1000:.2f} ms "
            f"p95 {_p95(first) * 1000:.2f} ms; response.done median "
            f"{statistics.median(done) * 1000:.2f} ms p95 {_p95(done) * 1000:.2f} ms "
            f"({len(done)} turns)"
        )
    memory_done = statistics.median(results["memory"][1])
    redis_done = statistics.median(results["redis"][1])
    print(f"redis/memory, response.done median: {redis_done / memory_done:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    asyncio.run(main(options.turns, options.rounds))
