"""What the relay adds per event: one event stream sent to an upstream directly and via a relay.

Three processes on this machine: an upstream rtagents server (scripted engine;
it speaks GA as the hosted API does), a relay (``ServerConfig.upstream``, what
``rtagents serve --upstream URL`` runs) in front of it, and this client. The
client opens one session on each and sends the same stream of requests,
each answered by the server with one event of a known type
(``conversation.item.create`` -> ``conversation.item.added``, ``retrieve``,
``input_audio_buffer.append`` + ``clear`` -> ``cleared``, ``session.update``
-> ``session.updated``, ``conversation.item.delete`` -> ``deleted``, and every
few rounds a text ``response.create`` -> ``response.created`` and its
``response.done``). It times each request from send to answer, in
alternating blocks (direct, relay, relay, direct...) so drift on a shared
machine falls on both alike, and prints p50/p99 of both and the difference:
the round trip through the relay crosses it twice (in and out), so the
added figure is the relay's cost for one event each way.

    .venv/bin/python bench/relay.py                # 3,000 requests each way
    .venv/bin/python bench/relay.py --rounds 200 --json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from subprocess import PIPE
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

ANSWER_TIMEOUT_S = 10.0
REQUESTS_PER_ROUND = 5
# 100 ms of pcm16 silence at 24 kHz: an append carries real audio, as a voice client's does.
SILENCE = base64.b64encode(bytes(4800)).decode()


# --- the server processes -------------------------------------------------------------


async def serve(upstream: str | None, upstream_key: str | None) -> None:
    """One server until stdin closes; prints its URL and key as one JSON line."""
    from rtagents.engines.scripted import scripted_engines
    from rtagents.server.config import ServerConfig
    from rtagents.server.serving import running_server

    config = ServerConfig(port=0, resume_grace_s=0)
    if upstream is not None:
        from rtagents.server.relay.upstream_settings import UpstreamSettings

        config.upstream = UpstreamSettings(url=upstream, api_key=upstream_key or "")
    async with running_server(config, scripted_engines()) as server:
        gc.freeze()  # as `rtagents serve` does once started
        print(json.dumps({"ws_url": server.ws_url, "api_key": server.api_key}), flush=True)
        await asyncio.to_thread(sys.stdin.read)  # returns when the parent closes our stdin


@asynccontextmanager
async def server_process(*extra: str) -> AsyncIterator[dict[str, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", *extra, stdin=PIPE, stdout=PIPE
    )
    try:
        assert process.stdout is not None
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError("a bench server exited before it started (see its stderr)")
        yield json.loads(line)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


# --- the client ------------------------------------------------------------------------


class Timed:
    """One session, sending requests and timing each to its answer."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.samples: defaultdict[str, list[float]] = defaultdict(list)

    async def answer(self, event: dict[str, Any], answer: str, label: str) -> None:
        started = time.perf_counter()
        await self.ws.send(json.dumps(event))
        await self.until(answer)
        self.samples[label].append((time.perf_counter() - started) * 1000)

    async def until(self, answer: str) -> None:
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), ANSWER_TIMEOUT_S)
            kind = json.loads(raw)["type"]
            if kind == answer:
                return
            if kind == "error":
                raise RuntimeError(f"the server refused a bench request: {raw!r}")

    async def round(self, index: int, *, respond: bool) -> None:
        item = f"item_bench{index}"
        text = {"type": "input_text", "text": f"bench round {index}"}
        message = {"id": item, "type": "message", "role": "user", "content": [text]}
        await self.answer(
            {"type": "conversation.item.create", "item": message},
            "conversation.item.added",
            "conversation.item.create",
        )
        await self.until("conversation.item.done")
        await self.answer(
            {"type": "conversation.item.retrieve", "item_id": item},
            "conversation.item.retrieved",
            "conversation.item.retrieve",
        )
        await self.ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": SILENCE}))
        await self.answer(
            {"type": "input_audio_buffer.clear"},
            "input_audio_buffer.cleared",
            "append + input_audio_buffer.clear",
        )
        update = {"type": "realtime", "instructions": f"Answer briefly ({index})."}
        await self.answer(
            {"type": "session.update", "session": update}, "session.updated", "session.update"
        )
        if respond:
            started = time.perf_counter()
            response = {"output_modalities": ["text"]}
            await self.answer(
                {"type": "response.create", "response": response},
                "response.created",
                "response.create",
            )
            await self.until("response.done")
            self.samples["response (create to done)"].append((time.perf_counter() - started) * 1000)
        await self.answer(
            {"type": "conversation.item.delete", "item_id": item},
            "conversation.item.deleted",
            "conversation.item.delete",
        )


@asynccontextmanager
async def timed_session(server: dict[str, str]) -> AsyncIterator[Timed]:
    headers = {"Authorization": f"Bearer {server['api_key']}"}
    url = server["ws_url"] + "?model=gpt-realtime"
    async with connect(url, additional_headers=headers, max_size=None) as ws:
        session = Timed(ws)
        await session.until("session.created")
        yield session


async def measure(rounds: int, block: int, respond_every: int) -> dict[str, Any]:
    async with server_process() as upstream:
        relay_args = ("--upstream", upstream["ws_url"], "--upstream-key", upstream["api_key"])
        async with server_process(*relay_args) as relay:
            async with timed_session(upstream) as direct, timed_session(relay) as relayed:
                warm = max(1, block // 2)
                for index in range(warm):  # connections, caches, the upstream's first turns
                    await direct.round(index, respond=True)
                    await relayed.round(index, respond=True)
                direct.samples.clear()
                relayed.samples.clear()
                order = [direct, relayed, relayed, direct]  # ABBA blocks
                index = warm
                for blocks in range(2 * -(-rounds // block)):  # rounds per side, rounded up
                    session = order[blocks % len(order)]
                    for _ in range(block):
                        await session.round(index, respond=index % respond_every == 0)
                        index += 1
    return report(direct.samples, relayed.samples)


def report(direct: dict[str, list[float]], relayed: dict[str, list[float]]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    everything_direct = [ms for label, ms in direct.items() if "done" not in label for ms in ms]
    everything_relay = [ms for label, ms in relayed.items() if "done" not in label for ms in ms]
    for label, a, b in [
        ("every request", everything_direct, everything_relay),
        *[(label, direct[label], relayed[label]) for label in direct],
    ]:
        rows[label] = {
            "n": min(len(a), len(b)),
            "direct_p50_ms": _pct(a, 50),
            "relay_p50_ms": _pct(b, 50),
            "added_p50_ms": _pct(b, 50) - _pct(a, 50),
            "direct_p99_ms": _pct(a, 99),
            "relay_p99_ms": _pct(b, 99),
            "added_p99_ms": _pct(b, 99) - _pct(a, 99),
        }
    return rows


def _pct(samples: list[float], pct: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


def print_table(rows: dict[str, Any]) -> None:
    print(
        f"{'request':34} {'n':>6} {'direct p50':>10} {'relay p50':>10} {'added':>7}"
        f" {'direct p99':>10} {'relay p99':>10} {'added':>7}   (ms)"
    )
    for label, row in rows.items():
        print(
            f"{label:34} {row['n']:6d} {row['direct_p50_ms']:10.3f} {row['relay_p50_ms']:10.3f}"
            f" {row['added_p50_ms']:7.3f} {row['direct_p99_ms']:10.3f} {row['relay_p99_ms']:10.3f}"
            f" {row['added_p99_ms']:7.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=600, help="rounds per side (5 requests each)")
    parser.add_argument("--block", type=int, default=50, help="rounds per alternating block")
    parser.add_argument("--respond-every", type=int, default=10, help="a response every N rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    parser.add_argument("--upstream-key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.upstream, args.upstream_key))
        return
    rows = asyncio.run(measure(args.rounds, args.block, args.respond_every))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)


if __name__ == "__main__":
    main()
