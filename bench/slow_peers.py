"""Slow and greedy peers against a real server process: slowloris sockets, a client not reading.

Each scenario runs against a fresh server process (``bench/load_server.py``:
the real server with its default limits, scripted engine, loopback):

- ``slowloris``: ``--sockets`` connections each send a request line and then
  one header byte every ``--trickle-s`` seconds, never finishing the head. It
  prints how many the server closed (and how many got ``408``), how long they
  were open (median, max) and the server's open file descriptors before,
  during and after. The header timeout is ``limits.header_read_timeout_s``
  (10 s by default).
- ``never-reads``: one WebSocket client with a small receive buffer sends
  ``--updates`` ``session.update`` events of ``--instructions-kib`` KiB each
  and never reads the echoes (``--updates`` x the echo size is what it asks
  the server to hold). It prints the server's RSS before, its peak (VmHWM)
  and after, and the close the client finds when it finally reads
  (``limits.outbox_backlog_bytes`` is 16 MiB by default).

Run: ``.venv/bin/python bench/slow_peers.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

from load import ServerProcess

from rtagents.testing.raw_websocket import open_raw_websocket


def _status_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith(field)).split()[1])


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _trickle(host: str, port: int, trickle_s: float, cap_s: float) -> tuple[float, bytes]:
    """Seconds until the server hung up (``cap_s`` if it never did) and what it said."""
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Pad: ")
    answer = asyncio.ensure_future(reader.read())
    try:
        while not answer.done() and time.monotonic() - started < cap_s:
            try:
                writer.write(b"a")
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait({answer}, timeout=trickle_s)
        if not answer.done():
            return cap_s, b""
        return time.monotonic() - started, answer.result()
    finally:
        answer.cancel()
        writer.close()


async def slowloris(sockets: int, trickle_s: float, cap_s: float) -> None:
    server = ServerProcess(stamps=False)
    try:
        url = urlsplit(server.http_url)
        assert url.hostname is not None and url.port is not None
        pid = server.proc.pid
        before = _open_fds(pid)
        tasks = [
            asyncio.ensure_future(_trickle(url.hostname, url.port, trickle_s, cap_s))
            for _ in range(sockets)
        ]
        await asyncio.sleep(min(2.0, cap_s / 2))
        during = _open_fds(pid)
        results = await asyncio.gather(*tasks)
        await asyncio.sleep(0.5)
        after = _open_fds(pid)
    finally:
        server.stop()
    closed = [seconds for seconds, _ in results if seconds < cap_s]
    timed_out = sum(answer.startswith(b"HTTP/1.1 408 ") for _, answer in results)
    median = statistics.median(closed) if closed else float("nan")
    print(
        f"slowloris: {sockets} sockets, a header byte every {trickle_s:g} s: "
        f"{len(closed)} closed by the server ({timed_out} with 408), "
        f"{sockets - len(closed)} still open at {cap_s:g} s; open for median {median:.1f} s, "
        f"max {max(closed, default=float('nan')):.1f} s; server fds {before} before, "
        f"{during} during, {after} after"
    )


async def never_reads(updates: int, instructions_kib: int) -> None:
    server = ServerProcess(stamps=False)
    try:
        url = urlsplit(server.http_url)
        assert url.hostname is not None and url.port is not None
        pid = server.proc.pid
        ws = await open_raw_websocket(
            url.hostname,
            url.port,
            "/v1/realtime?model=gpt-realtime",
            {"Authorization": f"Bearer {server.api_key}"},
            receive_buffer=4096,
            read_limit=4096,
        )
        rss_before = _status_kib(pid, "VmRSS:")
        session = {"type": "realtime", "instructions": "x" * (instructions_kib * 1024)}
        sent = 0
        started = time.monotonic()
        for n in range(updates):
            event = {"type": "session.update", "event_id": f"u{n}", "session": session}
            ws.send_text(json.dumps(event))
            try:
                await asyncio.wait_for(ws.drain(), 10)
            except (TimeoutError, ConnectionError):
                break  # the server stopped reading us
            sent += 1
        await asyncio.sleep(1.0)
        peak = _status_kib(pid, "VmHWM:")
        try:
            texts, code, reason = await asyncio.wait_for(ws.read_until_close(), 30)
        except TimeoutError:  # a server that keeps the connection open and stalled
            texts, code, reason = [], None, "no close within 30 s"
        elapsed = time.monotonic() - started
        ws.abort()
        await asyncio.sleep(0.5)
        rss_after = _status_kib(pid, "VmRSS:")
    finally:
        server.stop()
    asked = sent * instructions_kib / 1024
    print(
        f"never-reads: {sent} session.update of {instructions_kib} KiB sent in {elapsed:.1f} s "
        f"(~{asked:.0f} MiB of echoes asked for, never read); server RSS "
        f"{rss_before / 1024:.0f} MiB before, peak {peak / 1024:.0f} MiB, "
        f"{rss_after / 1024:.0f} MiB after; the client then read {len(texts)} frames and "
        f"close {code} {reason!r}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="*", default=["slowloris", "never-reads"])
    parser.add_argument("--sockets", type=int, default=300)
    parser.add_argument("--trickle-s", type=float, default=2.0)
    parser.add_argument("--cap-s", type=float, default=60.0)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--instructions-kib", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="30 sockets, 50 updates")
    args = parser.parse_args()
    if args.quick:
        args.sockets, args.updates = 30, 50
    if "slowloris" in args.scenario:
        asyncio.run(slowloris(args.sockets, args.trickle_s, args.cap_s))
    if "never-reads" in args.scenario:
        asyncio.run(never_reads(args.updates, args.instructions_kib))


if __name__ == "__main__":
    main()
