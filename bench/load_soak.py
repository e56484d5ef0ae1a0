"""The soak mode of ``bench/load.py``: fixed load for minutes, watching the server's RSS.

Sessions do not live for the whole soak: each one talks for
``SESSION_TURNS`` turns (30 s), hangs up and dials again, so a leak per
session (or per connection) shows as RSS creeping up, while a conversation
that legitimately grows inside one long session does not hide it. RSS is
sampled every ``sample_every`` seconds; "flat" means every sample of the
steady state (from ``WARM_S``: each session has lived and been replaced once)
stayed within +-5 % of the first of them. Growth during warm-up is printed
apart: it is conversations and allocator pools reaching their working size.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from load_client import CHUNK_MS, TURN_CHUNKS, Caller, run_caller, turn_frames

SESSION_TURNS = 15
RAMP_S = 10.0  # first dials spread over this long: turns end at independent moments
# Steady state: every session has lived a whole life and been replaced once
# (conversations and allocator pools have reached their working size).
WARM_S = RAMP_S + 2 * SESSION_TURNS * TURN_CHUNKS * CHUNK_MS / 1000
FLAT_PERCENT = 5.0


async def _dialer(
    server: Any, frames: list[str], offset: float, until: float, callers: list[Caller]
) -> None:
    start = time.monotonic() + offset
    while start < until:
        caller = Caller()
        callers.append(caller)
        turns = min(SESSION_TURNS, max(1, int((until - start) / (len(frames) * CHUNK_MS / 1000))))
        await run_caller(server.ws_url, server.api_key, frames, start, turns, caller)
        start = time.monotonic() + 0.2


async def soak(duration_s: float, sessions: int, sample_every: float, server_cls: Any) -> None:
    frames = turn_frames()
    server = server_cls(stamps=False)
    callers: list[Caller] = []
    samples: list[tuple[float, float]] = []
    try:
        began = time.monotonic()
        until = began + duration_s
        dialers = [
            asyncio.create_task(
                _dialer(server, frames, 1.0 + i * RAMP_S / sessions, until, callers)
            )
            for i in range(sessions)
        ]
        print(f"soak: {sessions} sessions for {duration_s:.0f} s, RSS every {sample_every:.0f} s")
        print(f"{'t (s)':>6} {'rss MiB':>8} {'vs first':>8}", flush=True)
        while time.monotonic() + sample_every <= until + 0.5:
            await asyncio.sleep(sample_every)
            rss = server.rss_mib()
            samples.append((time.monotonic() - began, rss))
            change = (rss / samples[0][1] - 1) * 100
            print(f"{samples[-1][0]:>6.0f} {rss:>8.1f} {change:>+7.1f}%", flush=True)
        await asyncio.gather(*dialers)
    finally:
        server.stop()
    report(samples, callers)


def report(samples: list[tuple[float, float]], callers: list[Caller]) -> None:
    """Growth while warming up, then drift in the steady state against its first sample."""
    steady = [(t, r) for t, r in samples if t >= WARM_S] or samples
    if not steady:
        return
    reference = steady[0][1]
    drift = max(abs(r / reference - 1) * 100 for _, r in steady)
    verdict = "flat" if drift <= FLAT_PERCENT else "NOT flat"
    print(f"warm-up (first {WARM_S:.0f} s): RSS {samples[0][1]:.0f} -> {reference:.0f} MiB")
    print(
        f"RSS {verdict} after warm-up: drift {drift:.1f} % from {reference:.0f} MiB at "
        f"{steady[0][0]:.0f} s (limit +-{FLAT_PERCENT:.0f} %)"
    )
    missing: Counter[str] = Counter()
    for caller in callers:
        missing.update(caller.missing_by_kind())
    errors = [c.error for c in callers if c.error]
    turns = sum(c.turns_sent for c in callers)
    print(f"sessions run: {len(callers)}, turns: {turns}, failed sessions: {len(errors)}")
    print(f"missing events: {sum(missing.values())} {dict(+missing)}")
    if errors:
        print(f"first failure: {errors[0]}")
