"""Reconnect: how long from an abrupt drop to a resumed session, with the rtagents client.

A server runs in its own process (``bench/load_server.py``, scripted engine);
the client (``rtagents.connect(..., reconnect=...)``) reaches it through a
:class:`~rtagents.testing.faults.FaultProxy` in this process. Each trial keeps
a conversation going (a text turn with an audio reply), then the proxy cuts
the TCP connection (RST both ways, mid-session) and the clock runs until the
client's ``rtagents.resumed`` event; a further turn checks the session still
answers. Two policies: the defaults (full-jitter backoff, first retry after
``uniform(0, 0.5 s)``), and no backoff (``base_delay=0``), which is the cost of
the mechanism itself: detection, new handshake, replay.

Run: ``.venv/bin/python bench/reconnect.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from urllib.parse import urlsplit

from load import ServerProcess

from rtagents import connect
from rtagents.client import ReconnectPolicy, Session
from rtagents.testing.faults import FaultProxy

TIMEOUT_S = 30.0
POLICIES = {
    "default backoff": ReconnectPolicy(rollover_margin=None),
    "no backoff": ReconnectPolicy(base_delay=0.0, rollover_margin=None),
}


async def turn(session: Session, text: str) -> None:
    await session.send_text(text)
    await session.create_response()
    await session.wait_for("response.done", timeout=TIMEOUT_S)


async def trials(server: ServerProcess, proxy: FaultProxy, policy: ReconnectPolicy, n: int) -> dict:
    times: list[float] = []
    rebuilt = 0
    async with connect(
        proxy.url(path=urlsplit(server.ws_url).path),
        credentials=server.api_key,
        model="gpt-realtime",
        reconnect=policy,
    ) as session:
        resumed: asyncio.Queue[tuple[float, bool]] = asyncio.Queue()
        session.on("rtagents.resumed", lambda e: resumed.put_nowait((time.monotonic(), e.rebuilt)))
        for i in range(n):
            await turn(session, f"turn {i}")
            connection = await proxy.connection()
            dropped = time.monotonic()
            connection.cut()
            at, was_rebuilt = await asyncio.wait_for(resumed.get(), TIMEOUT_S)
            times.append((at - dropped) * 1000)
            rebuilt += was_rebuilt
        await turn(session, "after the last drop")
    return {"times": times, "rebuilt": rebuilt}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(n: int) -> None:
    server = ServerProcess(stamps=False)
    try:
        parts = urlsplit(server.ws_url)
        assert parts.hostname is not None and parts.port is not None
        async with FaultProxy((parts.hostname, parts.port)) as proxy:
            print(f"{n} drops per policy (RST through the fault proxy, mid-session)")
            print(f"{'policy':<16} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'rebuilt':>8}")
            for name, policy in POLICIES.items():
                result = await trials(server, proxy, policy, n)
                times = result["times"]
                print(
                    f"{name:<16} {statistics.median(times):>10.1f} {quantile(times, 0.95):>8.1f} "
                    f"{max(times):>8.1f} {result['rebuilt']:>8}",
                    flush=True,
                )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drops", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="three drops per policy")
    args = parser.parse_args()
    asyncio.run(run(3 if args.quick else args.drops))


if __name__ == "__main__":
    main()
