"""``bench/load.py --bare``: the real server against a bare ``websockets`` server, same frames.

Issue 15, goal 4: the server's CPU per streamed audio second at most twice
that of a bare ``websockets`` server receiving the same frames and sending
the same replies (``bench/load_bare.py``). Each step of N sessions runs
against both, one after the other, the order alternating from step to step
so a drifting machine weighs on both; the load generator, its client and
the sessions' turns are those of the ramp (``bench/load.py``).

CPU per streamed audio second: the server process's CPU seconds (user and
system) during the step, divided by the seconds of audio the N sessions
streamed. The bare server passes every step it is given here; it stands for
what the transport alone costs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from load import ServerProcess, Step, run_step
from load_client import CHUNK_MS, TURN_CHUNKS, turn_frames

from rtagents.server.collector import FREEZE_EVERY_S

# After the warm-up: each collector's next tick, its sweep, and a margin.
SETTLE_S = FREEZE_EVERY_S + 0.5


class BareProcess(ServerProcess):
    """``load_bare.py`` in a child process (its stamps come from its control port)."""

    SCRIPT = "load_bare.py"

    async def stamps(self) -> dict[str, list[float]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.control_port)
        body: dict[str, list[float]] = json.loads(await reader.read())
        writer.close()
        await writer.wait_closed()
        return body


def header(first: str, second: str, last: str) -> str:
    return (
        f"{'N':>5} {first + ' ms/s':>13} {second + ' ms/s':>13} {last:>8} "
        f"{first + ' p99':>12} {second + ' p99':>12} {'lost':>9} {'first':>8}"
    )


def per_audio_second_ms(step: Step, turns: int) -> float:
    """Server CPU milliseconds per second of audio the step's sessions streamed."""
    audio_s = step.n * turns * TURN_CHUNKS * CHUNK_MS / 1000
    return step.server_cpu_s / audio_s * 1000


def worst_p99(step: Step) -> float:
    return max(step.p(step.eos, 99), step.p(step.delivery, 99))


async def alternate(
    servers: tuple[Callable[[], ServerProcess], Callable[[], ServerProcess]],
    labels: tuple[str, str],
    last: tuple[str, Callable[[float, float], str]],
    steps: list[int],
    duration_s: float,
    rcvbuf: int,
    client: str,
    *,
    together: bool = False,
) -> list[tuple[float, float]]:
    """Each step of N sessions against a fresh process of each of ``servers``, the order
    alternating from step to step; prints a row per step, ``last`` naming and computing
    its last column from the two servers' CPU ms per audio second. Returns those pairs.

    ``together``: both servers at once, N sessions each (the generator runs 2N), their
    callers' moments interleaved. The machine's speed then changes for both alike:
    on this shared machine it drifts by a third within an hour, and one after the other
    the two halves of a step see different machines.

    Fresh processes each step: in an A/A run with one pair kept for the whole run (the
    same server twice), one process used 3-7.5 % less CPU per audio second than the
    other in five steps of six, a difference a kept pair carries into every step; new
    processes make it noise that more steps average out (docs/benchmarks.md).
    """
    turns = max(1, round(duration_s / (TURN_CHUNKS * CHUNK_MS / 1000)))
    frames = turn_frames()
    print(f"{turns} turns of 2 s per session; load generator client: {client}")
    print("server CPU ms per streamed audio second (user + system), p99 = worst of eos/dlv")
    print(header(*labels, last[0]), flush=True)
    pairs = []
    for index, n in enumerate(steps):
        # Every step swaps which server starts first, warms up, and leads the callers:
        # in an A/A run the process made first used 3-4 % more CPU in seven steps of
        # eight, a place in the order a fixed order would charge to one side.
        first = index % 2 == 0
        made = [make() for make in (servers if first else servers[::-1])]
        pair = made if first else made[::-1]  # pair[0] is always servers[0]'s
        try:
            await warm_up(made, frames, rcvbuf, client)
            if together:
                result = await _at_once(made, n, turns, frames, rcvbuf, client)
            else:
                result = {id(s): await run_step(s, n, turns, frames, rcvbuf, client) for s in made}
        finally:
            for server in made:
                server.stop()
        one, two = result[id(pair[0])], result[id(pair[1])]
        one_ms, two_ms = per_audio_second_ms(one, turns), per_audio_second_ms(two, turns)
        pairs.append((one_ms, two_ms))
        print(
            f"{n:>5} {one_ms:>13.1f} {two_ms:>13.1f} {last[1](one_ms, two_ms):>8} "
            f"{worst_p99(one):>12.1f} {worst_p99(two):>12.1f} {one.lost:>4}/{two.lost:<4} "
            f"{labels[0 if first else 1]:>8}",
            flush=True,
        )
    return pairs


async def warm_up(pair: list[ServerProcess], frames: list[str], rcvbuf: int, client: str) -> None:
    """One one-turn session on each server at once (first-use imports and caches), then a
    wait for what ending it sets off.

    A bench server's collector (``server/collector.py``) sweeps the whole heap at its
    first tick with no live session after one has run: 50-60 ms of CPU here. Warmed
    up one after the other, the second server swept inside the step's window and the
    first before it, so the second was charged a sweep the first was not (the
    recording server was second: ~55 ms of a step's ~3.5 s of CPU, about 1.5 points
    of its "recording cost" by that arithmetic).
    """
    await asyncio.gather(*(run_step(server, 1, 1, frames, rcvbuf, client) for server in pair))
    await asyncio.sleep(SETTLE_S)


async def _at_once(
    pair: list[ServerProcess], n: int, turns: int, frames: list[str], rcvbuf: int, client: str
) -> dict[int, Step]:
    """One step against both servers at the same time; the second's callers start half a
    caller's spacing after the first's, so the generator's moments stay evenly spread."""
    half_spacing = TURN_CHUNKS * CHUNK_MS / 1000 / n / 2
    steps = await asyncio.gather(
        run_step(pair[0], n, turns, frames, rcvbuf, client),
        run_step(pair[1], n, turns, frames, rcvbuf, client, offset_s=half_spacing),
    )
    return {id(server): step for server, step in zip(pair, steps, strict=True)}


def _ratio(ours_ms: float, base_ms: float) -> str:
    return f"{ours_ms / base_ms:.2f}x" if base_ms else "n/a"  # CPU ticks are 10 ms


async def compare_bare(
    steps: list[int], duration_s: float, rcvbuf: int, client: str, *, together: bool = False
) -> None:
    servers = (lambda: ServerProcess(stamps=True), lambda: BareProcess(stamps=True))
    labels = ("rtagents", "bare")
    last = ("ratio", _ratio)
    await alternate(servers, labels, last, steps, duration_s, rcvbuf, client, together=together)
