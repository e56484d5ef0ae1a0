"""Load: how many real-time voice sessions one server process carries within 50 ms.

The bench starts one server process (``bench/load_server.py``: the real
server, scripted engine with ``EnergyVAD``, ``server_vad`` on) and drives it
from this process -- two processes, so the load generator does not steal the
server's event loop. Each session streams tone-coded speech and silence in
100 ms appends at real-time pace (``bench/load_client.py``); the server
detects each turn's end, commits, and answers with audio.

Per step of N sessions it reports, besides the server's CPU% and RSS:

- ``eos``: end-of-speech latency, from sending the append that completed the
  silence window to reading ``speech_stopped`` (what a caller waits for);
- ``delivery``: every frame after the greeting, from the moment the server
  emitted it to the moment the client read it (one monotonic clock; see
  load_server.py);
- ``lost``: frames the server emitted that never arrived, plus expected
  per-turn events (speech started/stopped, a completed reply with all its
  audio) that never came;
- ``gc max``: the longest garbage-collection pause in the server process(es)
  during the step, in ms (a full collection stops every session at once, so
  a step that fails with CPU to spare has usually met one).

A step passes with p99 < 50 ms for both and nothing lost; the ratios compare
each step's p99 with a 1-session baseline measured in the same run.
``--soak S --sessions N`` instead runs N sessions (each reconnecting every
30 s) for S seconds and samples the server's RSS every 30 s. ``--workers N``
ramps one worker and N workers in the same sitting, in ABBA order, and
reports the ratio of their largest passing N (``bench/load_workers.py``);
``--kills K`` then times cross-node resume after ``kill -9``. ``--bare`` runs
each step against the real server and a bare ``websockets`` server sending the
same frames (``bench/load_bare.py``), alternating, and reports the server CPU
per streamed audio second of each and their ratio (``bench/load_baseline.py``);
``--record`` does the same against a server recording every session, and
reports what recording costs (``bench/load_recording.py``). With either,
``--together`` runs the two servers at the same time, N sessions each, instead
of one after the other (the machine's drift then weighs on both alike).

``--client`` picks the load generator's WebSocket client: ``raw`` (the
default, ``bench/load_wire.py``: about half the CPU per frame, so more is left
to the servers) or ``websockets`` (the library's client); the output names it.

Run: ``.venv/bin/python bench/load.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from load_client import CHUNK_MS, CLIENTS, RCVBUF, TURN_CHUNKS, Caller, run_caller, turn_frames

GOAL_MS = 50.0
GREETING = 2
HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """``load_server.py`` in a child process; stops when we close its stdin."""

    SCRIPT = "load_server.py"

    def __init__(self, *, stamps: bool, extra: list[str] | None = None) -> None:
        args = [sys.executable, str(HERE / self.SCRIPT)] + ([] if stamps else ["--no-stamps"])
        args += extra or []
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the bench server did not start")
        info = json.loads(line)
        self.ws_url: str = info["ws_url"] + "?model=gpt-realtime"
        self.http_url: str = info["http_url"]
        self.api_key: str = info["api_key"]
        self.control_port: int = info["control_port"]

    def cpu_s(self) -> float:
        return cpu_seconds(self.proc.pid)

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    async def stamps(self) -> dict[str, list[float]]:
        async with httpx.AsyncClient(base_url=self.http_url, timeout=30) as http:
            result: dict[str, list[float]] = (await http.get("/bench/stamps")).json()
            return result

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def cpu_seconds(pid: int | str) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


@dataclass
class Step:
    n: int
    server_cpu: float  # % of one core, over the step's wall time
    server_cpu_s: float
    load_cpu: float
    rss_mib: float
    eos: list[float]
    delivery: list[float]
    frames: int
    lost: int
    errors: list[str]
    lost_by_kind: dict[str, int]
    gc_pauses: list[float]  # ms, every collection in the server processes during the step

    def p(self, values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    @property
    def passed(self) -> bool:
        return (
            not self.errors
            and self.lost == 0
            and self.p(self.eos, 99) < GOAL_MS
            and self.p(self.delivery, 99) < GOAL_MS
        )


async def run_step(
    server: ServerProcess,
    n: int,
    turns: int,
    frames: list[str],
    rcvbuf: int = RCVBUF,
    client: str = CLIENTS[0],
    offset_s: float = 0.0,
) -> Step:
    """N callers of ``turns`` turns against ``server``; ``offset_s`` shifts every caller's
    start (two steps run at once interleave their callers' moments with it)."""
    callers = [Caller() for _ in range(n)]
    start = time.monotonic() + 1.0 + n * 0.01  # every session connected before the first chunk
    # Callers are independent: their turns end at evenly spread moments of the
    # 2 s turn, not all in the same 100 ms (which would measure a burst, not a load).
    period = TURN_CHUNKS * CHUNK_MS / 1000
    starts = [start + offset_s + i * period / n for i in range(n)]
    cpu0, own0, wall0 = server.cpu_s(), cpu_seconds("self"), time.monotonic()
    await asyncio.gather(
        *(
            run_caller(server.ws_url, server.api_key, frames, at, turns, caller, rcvbuf, client)
            for at, caller in zip(starts, callers, strict=True)
        )
    )
    wall = time.monotonic() - wall0
    cpu = (server.cpu_s() - cpu0) / wall * 100
    own = (cpu_seconds("self") - own0) / wall * 100
    stamps = await server.stamps()
    pause_keys = [key for key in stamps if key.startswith("gc/")]  # load_server.GC_KEY
    pauses = [ms for key in pause_keys for ms in stamps.pop(key)]
    delivery: list[float] = []
    lost: Counter[str] = Counter()
    for caller in callers:
        emitted = stamps.get(caller.session_id, [])
        # The greeting (session.created, conversation.created) is emitted during
        # the handshake, before the client can read: counted for loss, not timed.
        pairs = zip(emitted[GREETING:], caller.recv_at[GREETING:], strict=False)
        delivery += [(r - e) * 1000 for e, r in pairs]
        lost["frames"] += max(0, len(emitted) - len(caller.recv_at))
        lost.update(caller.missing_by_kind())
    return Step(
        n=n,
        server_cpu=cpu,
        server_cpu_s=cpu * wall / 100,
        load_cpu=own,
        rss_mib=server.rss_mib(),
        eos=[x for c in callers for x in c.eos_latencies_ms()],
        delivery=delivery,
        frames=sum(len(c.recv_at) for c in callers),
        lost=sum(lost.values()),
        errors=[c.error for c in callers if c.error],
        lost_by_kind={kind: count for kind, count in lost.items() if count},
        gc_pauses=pauses,
    )


HEADER = (
    f"{'N':>5} {'srv cpu%':>8} {'gen cpu%':>8} {'rss MiB':>8} {'eos p50':>8} {'eos p99':>8} "
    f"{'dlv p50':>8} {'dlv p99':>8} {'p99 ratio':>9} {'frames':>8} {'lost':>5} {'gc max':>7}"
    "  result"
)


def row(step: Step, baseline: Step) -> str:
    worst = max(step.p(step.eos, 99), step.p(step.delivery, 99))
    base = max(baseline.p(baseline.eos, 99), baseline.p(baseline.delivery, 99))
    verdict = "pass" if step.passed else "FAIL" + (f" ({step.errors[0]})" if step.errors else "")
    return (
        f"{step.n:>5} {step.server_cpu:>8.0f} {step.load_cpu:>8.0f} {step.rss_mib:>8.0f} "
        f"{step.p(step.eos, 50):>8.1f} {step.p(step.eos, 99):>8.1f} "
        f"{step.p(step.delivery, 50):>8.1f} {step.p(step.delivery, 99):>8.1f} "
        f"{worst / base:>8.1f}x {step.frames:>8} {step.lost:>5} "
        f"{max(step.gc_pauses, default=0.0):>7.1f}  {verdict}"
    )


async def ramp(steps: list[int], duration_s: float, rcvbuf: int, client: str) -> None:
    server = ServerProcess(stamps=True)
    try:
        await ramp_on(server, steps, duration_s, rcvbuf, client=client)
    finally:
        server.stop()


async def ramp_on(
    server: Any,
    steps: list[int],
    duration_s: float,
    rcvbuf: int,
    *,
    stop_at_fail: bool = False,
    client: str = CLIENTS[0],
) -> int:
    """Run ``steps`` against ``server`` (a process or a worker group); the largest N passing.

    ``stop_at_fail``: stop after the first failing step (a larger N would fail too).
    ``client``: the load generator's WebSocket client (``load_client.CLIENTS``).
    """
    turns = max(1, round(duration_s / (TURN_CHUNKS * 0.1)))
    frames = turn_frames()
    await run_step(server, 1, 1, frames, rcvbuf, client)  # warm-up: imports and caches
    baseline = await run_step(server, 1, turns, frames, rcvbuf, client)
    print(f"{turns} turns of 2 s per session; goal p99 < {GOAL_MS:.0f} ms, nothing lost")
    print(
        f"load generator client: {client}; client receive buffer: "
        f"{rcvbuf or 'kernel default'}; {os.cpu_count()} CPUs"
    )
    print(HEADER)
    print(row(baseline, baseline), flush=True)
    best = 0
    for n in steps:
        step = await run_step(server, n, turns, frames, rcvbuf, client)
        print(row(step, baseline), flush=True)
        if step.lost_by_kind:
            print(f"{'':>6}lost: {step.lost_by_kind}", flush=True)
        best = n if step.passed and n > best else best
        if stop_at_fail and not step.passed:
            break
    print(f"largest N passing: {best}")
    return best


def comparison_steps(args: argparse.Namespace, default: str) -> tuple[list[int], float]:
    """``--bare`` and ``--record``'s steps and seconds a step (``--quick``: a smoke run)."""
    if args.quick:
        return [2, 4], 2.0
    return [int(x) for x in (args.steps_given or default).split(",")], args.duration


def main() -> None:
    # The load generator's own pauses would be charged to the server: its heap
    # (openai types, numpy) makes a full collection take ~40 ms on this machine,
    # so everything imported so far is frozen out of the collector. The server
    # process is left exactly as shipped.
    gc.freeze()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", dest="steps_given", default=None, help="N per step, commas")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per step")
    parser.add_argument("--soak", type=float, default=0.0, help="soak for this many seconds")
    parser.add_argument("--sessions", type=int, default=100, help="sessions during the soak")
    parser.add_argument("--sample-every", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="a few sessions for a few seconds")
    parser.add_argument(
        "--rcvbuf", type=int, default=RCVBUF, help="client SO_RCVBUF bytes (0: kernel default)"
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="compare 1 worker with this many (ABBA)"
    )
    parser.add_argument("--kills", type=int, default=0, help="cross-node resume: kill -9 rounds")
    parser.add_argument("--no-redis", action="store_true", help="--workers without Redis")
    parser.add_argument(
        "--bare",
        action="store_true",
        help="each step against a bare websockets server too (bench/load_bare.py)",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="each step against a server recording every session too (bench/load_recording.py)",
    )
    parser.add_argument(
        "--control", action="store_true", help="with --record: neither server records (A/A)"
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="with --bare or --record: both servers at once, N sessions each",
    )
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default=CLIENTS[0],
        help="the load generator's WebSocket client: raw (bench/load_wire.py) or websockets",
    )
    args = parser.parse_args()
    if args.workers or args.kills:
        from load_workers import compare_workers

        default = "100,150,200,250,300,350,400,450,500"
        steps = [2, 4] if args.quick else [int(x) for x in (args.steps_given or default).split(",")]
        duration = 2.0 if args.quick else args.duration
        sessions = 8 if args.quick else 40  # resumable sessions during the kills
        asyncio.run(
            compare_workers(
                args.workers,
                steps,
                duration,
                args.rcvbuf,
                args.kills,
                args.no_redis,
                sessions,
                client=args.client,
            )
        )
        return
    if args.bare:
        from load_baseline import compare_bare

        steps, duration = comparison_steps(args, "50,200")
        together = args.together
        asyncio.run(compare_bare(steps, duration, args.rcvbuf, args.client, together=together))
        return
    if args.record:
        from load_recording import compare_recording

        steps, duration = comparison_steps(args, "200")
        control = args.control  # --control: neither server records (an A/A run)
        asyncio.run(
            compare_recording(
                steps,
                duration,
                args.rcvbuf,
                args.client,
                control=control,
                together=args.together,
            )
        )
        return
    if args.soak:
        from load_soak import soak

        asyncio.run(soak(args.soak, args.sessions, args.sample_every, ServerProcess))
        return
    steps_text = args.steps_given or "50,100,150,200,250,300"
    steps = [2, 4] if args.quick else [int(x) for x in steps_text.split(",")]
    asyncio.run(ramp(steps, 2.0 if args.quick else args.duration, args.rcvbuf, args.client))


if __name__ == "__main__":
    main()
