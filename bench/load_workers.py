"""``bench/load.py --workers N``: one worker against N on one port, in the same sitting.

Workers are what ``rtagents serve --workers N`` runs: server processes
sharing one port with ``SO_REUSEPORT`` (the kernel spreads connections) and
one Redis (started here from Debian's ``redis-server``; ``--no-redis`` leaves
it out). Each worker is ``load_server.py`` (the real server plus the emit
stamps), so every figure is measured as in the one-process ramp.

The blocks run in ABBA order (1 worker, N, N, 1): a machine whose load drifts
during the sitting (this one is shared) then weighs on both sides alike. Each
block ramps until its first failing step; the result is the largest passing N
of each block and the ratio of the means.

``--kills K`` then measures cross-node resume: two workers sharing Redis, a
set of resumable client sessions (the SDK with ``ReconnectPolicy``), and K
rounds of ``kill -9`` of the worker that holds the most of them, timing each
affected session from the kill to its ``rtagents.resumed`` event (resumed on
the other worker, or rebuilt if it could not be).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from load import ServerProcess, ramp_on

from rtagents.testing.redis_server import RedisServer, redis_binary

KEY = "sk-bench-workers"


class WorkerGroup:
    """``count`` bench servers on one port (SO_REUSEPORT), optionally sharing one Redis."""

    def __init__(self, count: int, redis_url: str | None, *, stamps: bool = True) -> None:
        self.redis_url = redis_url
        self.stamped = stamps
        shared = ["--reuse-port", "--api-key", KEY] + (["--redis", redis_url] if redis_url else [])
        first = ServerProcess(stamps=stamps, extra=shared)
        self.port = urlsplit(first.ws_url).port or 0
        self.shared = [*shared, "--port", str(self.port)]
        self.workers = [first] + [self.start_worker() for _ in range(count - 1)]
        self.ws_url = first.ws_url
        self.api_key = KEY

    def start_worker(self) -> ServerProcess:
        return ServerProcess(stamps=self.stamped, extra=self.shared)

    def cpu_s(self) -> float:
        return sum(worker.cpu_s() for worker in self.workers)

    def rss_mib(self) -> float:
        return sum(worker.rss_mib() for worker in self.workers)

    async def stamps(self) -> dict[str, list[float]]:
        merged: dict[str, list[float]] = {}
        for worker in self.workers:
            reader, writer = await asyncio.open_connection("127.0.0.1", worker.control_port)
            merged.update(json.loads(await reader.read()))
            writer.close()
            await writer.wait_closed()
        return merged

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def _redis() -> RedisServer | None:
    if redis_binary() is None:
        print("redis-server not found: the workers share no state (make redis installs it)")
        return None
    server = RedisServer()
    server.start()
    return server


async def compare_workers(
    workers: int,
    steps: list[int],
    duration_s: float,
    rcvbuf: int,
    kills: int,
    no_redis: bool,
    sessions: int = 40,
    *,
    client: str = "raw",
) -> None:
    redis = None if no_redis else _redis()
    url = redis.url if redis else None
    try:
        if workers:
            await _abba(workers, steps, duration_s, rcvbuf, url, client)
        if kills:
            if url is None:
                print("cross-node resume needs Redis: skipped")
            else:
                await resume_after_kills(kills, url, sessions)
    finally:
        if redis is not None:
            redis.stop()


async def _abba(
    workers: int,
    steps: list[int],
    duration_s: float,
    rcvbuf: int,
    redis_url: str | None,
    client: str,
) -> None:
    best: dict[int, list[int]] = {1: [], workers: []}
    load = os.getloadavg()
    print(
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; Redis: {redis_url}; "
        f"load generator client: {client}"
    )
    for count in (1, workers, workers, 1):
        print(f"\n== {count} worker{'s' if count > 1 else ''} ==", flush=True)
        group = WorkerGroup(count, redis_url)
        try:
            best[count].append(
                await ramp_on(group, steps, duration_s, rcvbuf, stop_at_fail=True, client=client)
            )
        finally:
            group.stop()
    one, many = statistics.mean(best[1]), statistics.mean(best[workers])
    ratio = many / one if one else float("nan")
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"largest N passing, ABBA: 1 worker {best[1]}, {workers} workers {best[workers]}")
    print(f"ratio {workers} workers / 1: {ratio:.2f}x (goal >= 1.7x with 2)")


async def resume_after_kills(kills: int, redis_url: str, sessions: int = 40) -> None:
    """``kills`` rounds of kill -9 on a worker; each affected session's time to resume."""
    from rtagents import connect
    from rtagents.client import ReconnectPolicy

    policy = ReconnectPolicy(max_attempts=20, base_delay=0.05, max_delay=0.5, rollover_margin=None)
    group = WorkerGroup(2, redis_url, stamps=False)
    moved = Moves()
    text = {"type": "realtime", "output_modalities": ["text"]}
    times: list[float] = []
    rebuilt = missing = failed = 0
    try:
        async with _sessions(connect, group, policy, text, sessions, moved) as opened:
            for _ in range(kills):
                victim = max(group.workers, key=lambda w: _clients_of(w.proc.pid, group.port))
                lost = _clients_of(victim.proc.pid, group.port)
                moved.clear()
                killed_at = time.monotonic()
                victim.proc.send_signal(signal.SIGKILL)
                victim.proc.wait()
                await _until_moved(moved, lost, killed_at + 60)
                times += [when - killed_at for when, was_rebuilt in moved if not was_rebuilt]
                rebuilt += sum(was_rebuilt for _, was_rebuilt in moved)
                missing += max(0, lost - len(moved))
                group.workers[group.workers.index(victim)] = group.start_worker()
            failed = sum(session.failure is not None for session in opened)
    finally:
        group.stop()
    if times:
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(
            f"cross-node resume after kill -9 ({kills} kills, {len(times)} sessions resumed): "
            f"median {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
            f"rebuilt instead: {rebuilt}; not back within 60 s: {missing}; failed: {failed}"
        )
    else:
        print(f"no session resumed across workers (rebuilt {rebuilt}, failed {failed})")


async def _until_moved(moved: Moves, lost: int, deadline: float) -> None:
    """Wait until ``lost`` sessions have come back (resumed or rebuilt), or ``deadline``."""
    while len(moved) < lost and time.monotonic() < deadline:
        moved.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(moved.arrived.wait(), deadline - time.monotonic())


class Moves(list[tuple[float, bool]]):
    """(when, rebuilt) of every ``rtagents.resumed``; ``arrived`` is set on each."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()

    def note(self, event: Any) -> None:
        self.append((time.monotonic(), event.rebuilt))
        self.arrived.set()


def _clients_of(pid: int, port: int) -> int:
    """Established connections to ``port`` held by process ``pid`` (Linux /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        count += fields[3] == "01" and local_port == port and fields[9] in inodes
    return count


class _sessions:  # noqa: N801 -- used as a context manager, like a function
    """Open ``count`` resumable sessions with one answered turn each; close them on exit."""

    def __init__(
        self,
        connect: Any,
        group: WorkerGroup,
        policy: Any,
        config: dict[str, Any],
        count: int,
        moved: Moves,
    ) -> None:
        self.args = (connect, group, policy, config, moved)
        self.count = count
        self.opened: list[Any] = []

    async def __aenter__(self) -> list[Any]:
        connect, group, policy, config, moved = self.args
        for _ in range(self.count):
            session = await connect(
                group.ws_url,
                credentials=group.api_key,
                model="gpt-realtime",
                session=config,
                reconnect=policy,
            )
            session.on("rtagents.resumed", moved.note)
            done = asyncio.Event()
            session.on("response.done", lambda e, done=done: done.set())
            await session.send_text("hello")
            await session.create_response()
            await asyncio.wait_for(done.wait(), 30)
            self.opened.append(session)
        return self.opened

    async def __aexit__(self, *exc_info: object) -> None:
        for session in self.opened:
            await session.close()
