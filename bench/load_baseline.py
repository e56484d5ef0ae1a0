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

from load import ServerProcess, Step, run_step
from load_client import CHUNK_MS, TURN_CHUNKS, turn_frames


class BareProcess(ServerProcess):
    """``load_bare.py`` in a child process (its stamps come from its control port)."""

    SCRIPT = "load_bare.py"

    async def stamps(self) -> dict[str, list[float]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.control_port)
        body: dict[str, list[float]] = json.loads(await reader.read())
        writer.close()
        await writer.wait_closed()
        return body


HEADER = (
    f"{'N':>5} {'rtagents ms/s':>13} {'bare ms/s':>10} {'ratio':>7} "
    f"{'rtagents p99':>12} {'bare p99':>9} {'lost':>9}"
)


def per_audio_second_ms(step: Step, turns: int) -> float:
    """Server CPU milliseconds per second of audio the step's sessions streamed."""
    audio_s = step.n * turns * TURN_CHUNKS * CHUNK_MS / 1000
    return step.server_cpu_s / audio_s * 1000


def worst_p99(step: Step) -> float:
    return max(step.p(step.eos, 99), step.p(step.delivery, 99))


async def compare_bare(steps: list[int], duration_s: float, rcvbuf: int, client: str) -> None:
    turns = max(1, round(duration_s / (TURN_CHUNKS * CHUNK_MS / 1000)))
    frames = turn_frames()
    real, bare = ServerProcess(stamps=True), BareProcess(stamps=True)
    try:
        for server in (real, bare):  # warm-up: first-use imports and caches
            await run_step(server, 1, 1, frames, rcvbuf, client)
        print(f"{turns} turns of 2 s per session; load generator client: {client}")
        print("server CPU ms per streamed audio second (user + system), p99 = worst of eos/dlv")
        print(HEADER, flush=True)
        for index, n in enumerate(steps):
            order = [real, bare] if index % 2 == 0 else [bare, real]
            result = {id(s): await run_step(s, n, turns, frames, rcvbuf, client) for s in order}
            ours, base = result[id(real)], result[id(bare)]
            ours_ms, base_ms = per_audio_second_ms(ours, turns), per_audio_second_ms(base, turns)
            ratio = f"{ours_ms / base_ms:>6.2f}x" if base_ms else "    n/a"  # CPU ticks are 10 ms
            print(
                f"{n:>5} {ours_ms:>13.1f} {base_ms:>10.1f} {ratio} "
                f"{worst_p99(ours):>12.1f} {worst_p99(base):>9.1f} {ours.lost:>4}/{base.lost:<4}",
                flush=True,
            )
    finally:
        real.stop()
        bare.stop()
