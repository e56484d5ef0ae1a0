"""Many voices at once: felt latency with 1, 2, 4 and 8 local sessions talking concurrently.

Issue 15, goal 2: with 4 concurrent sessions on the embedded engines, p50 ≤ 900 ms
from the last voiced sample to the first reply audio. Each session is a
caller of ``bench/felt_latency.py``: the packaged Piper voice asks the bench's
questions over a real WebSocket, in 20 ms chunks at real-time pace, then
stays silent until the reply is done; the clock runs from the last voiced
sample to the first ``response.output_audio.delta`` (``speech_stopped`` splits
it). All sessions share one in-process ``serve --engine local`` server and so
one set of engines on the machine's cores.

Callers are independent people, so they do not stop speaking in the same
20 ms: each session starts after a random delay in ``[0, STAGGER_S)`` (seeded,
the same for every run) and then runs its turns back to back. With speech
this short the turns still overlap heavily at 4 and 8 sessions.

Run: ``.venv/bin/python bench/voices.py`` (``--sessions 1,2,4,8``, ``--turns``
per session; ``--quick``: 1 and 2 sessions, 2 turns).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections import Counter
from typing import Any

import this_tree  # noqa: F401  (this checkout's src, last on sys.path)
from felt_latency import (
    TURNS_PER_SESSION,
    add_setup_options,
    delta,
    one_turn,
    percentile,
    spoken_clips,
    turn_detection,
)

from rtagents import connect
from rtagents.cli.demo import session_config

GOAL_P50_MS = 900.0  # at 4 sessions
STAGGER_S = 2.0
SEED = 15


async def caller(
    url: str,
    key: str,
    config: dict[str, Any],
    clips: list[bytes],
    first: int,
    turns: int,
    delay: float,
) -> list[dict[str, Any]]:
    """One caller: wait ``delay``, then ``turns`` questions from clip ``first`` on, in
    sessions of ``TURNS_PER_SESSION`` (as felt_latency.py: a 135M model's history stays
    conversation-sized, else its long replies measure the model, not the server)."""
    await asyncio.sleep(delay)
    rows: list[dict[str, Any]] = []
    while len(rows) < turns:
        async with connect(url, credentials=key) as session:
            await session.update_session(config)
            for _ in range(min(TURNS_PER_SESSION, turns - len(rows))):
                clip = clips[(first + len(rows)) % len(clips)]
                rows.append(await one_turn(session, clip))
                await asyncio.sleep(0.3)  # the reply's tail leaves the loop
    return rows


def report(sessions: int, rows: list[dict[str, Any]]) -> float | None:
    ok = [r for r in rows if r.get("status") == "completed" and "first_audio" in r]
    missed = Counter(f"{r.get('status')} ({r.get('reason')})" for r in rows if r not in ok)
    if missed:
        # As in felt_latency.py, only completed replies with audio are counted.
        print(f"  turns left out (not completed with audio): {dict(missed)}", flush=True)
    felt = [d for r in ok if (d := delta(r, "last_voiced", "first_audio")) is not None]
    wait = [d for r in ok if (d := delta(r, "last_voiced", "speech_stopped")) is not None]
    reply = [d for r in ok if (d := delta(r, "speech_stopped", "first_audio")) is not None]
    if not felt:
        print(f"| {sessions} | 0/{len(rows)} | — | — | — | — |", flush=True)
        return None
    p50 = percentile(felt, 50)
    print(
        f"| {sessions} | {len(ok)}/{len(rows)} | {p50:.0f} | {percentile(felt, 95):.0f} | "
        f"{percentile(wait, 50):.0f} | {percentile(reply, 50):.0f} / {percentile(reply, 95):.0f} |",
        flush=True,
    )
    return p50


async def main(args: argparse.Namespace) -> int:
    from rtagents.engines.local.factory import local_engines
    from rtagents.engines.warmup import WarmUp, close_engines
    from rtagents.server.config import ServerConfig
    from rtagents.server.serving import running_server

    engines = local_engines(
        llm_url=args.llm_url,
        llm_threads=args.llm_threads,
        llm_slots=args.llm_slots,
        engine_threads=0 if args.no_cpu_gate else None,
    )
    config = session_config()
    config["audio"]["input"]["turn_detection"] = turn_detection(args.turn_detection)
    rng = random.Random(SEED)
    results: dict[int, float | None] = {}
    try:
        await WarmUp(engines, progress=lambda line: print(f"  {line}", flush=True)).wait()
        clips = await spoken_clips()
        async with running_server(ServerConfig(port=0), engines) as server:
            threads = args.llm_threads or "the server's default"
            print(
                f"\nvoices at once, {args.turn_detection}, LLM threads {threads}, "
                f"LLM slots {args.llm_slots}, CPU gate {engines.labels.get('cpu', 'off')}; "
                f"{args.machine}"
            )
            print(
                "| sessions | turns with audio | felt p50 ms | felt p95 ms | "
                "last voiced → speech_stopped p50 | speech_stopped → first audio p50 / p95 |"
            )
            print("|---:|---:|---:|---:|---:|---|")
            for count in args.sessions:
                runs = [
                    caller(
                        server.ws_url,
                        server.api_key,
                        config,
                        clips,
                        i * 3,
                        args.turns,
                        rng.uniform(0, STAGGER_S) if count > 1 else 0.0,
                    )
                    for i in range(count)
                ]
                rows = [row for session in await asyncio.gather(*runs) for row in session]
                results[count] = report(count, rows)
    finally:
        await close_engines(engines)
    four = results.get(4)
    if four is not None:
        verdict = "met" if four <= GOAL_P50_MS else "MISSED"
        print(
            f"\ngoal: 4 sessions p50 <= {GOAL_P50_MS:.0f} ms from the last voiced sample: "
            f"{verdict} ({four:.0f} ms)"
        )
    return 0 if all(v is not None for v in results.values()) else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,2,4,8", help="comma-separated session counts")
    parser.add_argument("--turns", type=int, default=8, help="turns per session")
    parser.add_argument("--quick", action="store_true", help="1 and 2 sessions, 2 turns each")
    add_setup_options(parser)
    args = parser.parse_args()
    args.sessions = [int(n) for n in ("1,2" if args.quick else args.sessions).split(",")]
    if args.quick:
        args.turns = 2
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
