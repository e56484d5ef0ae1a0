"""When the garbage collector runs in a serving process: full passes kept off live sessions.

A full collection stops every session of the process at once, for as long as
it takes to walk every tracked object: with 360-400 scripted sessions on one
core that was 60-90 ms, and it set one process's limit (``bench/load.py``:
eos p99 over 50 ms with the CPU to spare). Those passes find almost nothing:
a session breaks its own reference cycles when it ends (the host's
``let_go``), so its objects are freed by reference counting.

So, once the process has started, :class:`CollectorSchedule` moves the
objects that have survived the young generations out of the collector's
reach every ``freeze_every_s`` (``gc.freeze()``, a constant-time list splice):
full passes then walk only what was made since the last move, a few ms. The
price is that a reference cycle among moved objects is not found until the
next **sweep** (``gc.unfreeze()``, a full collection, ``gc.freeze()``), which
runs when the process has no live session (a pass there delays nobody) and at
the latest every ``sweep_every_s`` (a bound on the memory such cycles hold).
A sweep walks the whole heap, so one under load is the one long pause left.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("rtagents.server.collector")

FREEZE_EVERY_S = 1.0
SWEEP_EVERY_S = 600.0


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one sweep did: objects found unreachable, and how long it stopped the process."""

    collected: int
    pause_s: float
    live_sessions: int


class CollectorSchedule:
    """Freezes survivors every ``freeze_every_s``; sweeps when idle or every ``sweep_every_s``.

    ``live_sessions`` says how many sessions the process serves now. Start it
    once the process is serving (after its own ``gc.freeze()`` of the start-up
    heap); :meth:`run` runs until cancelled.
    """

    def __init__(
        self,
        live_sessions: Callable[[], int],
        *,
        freeze_every_s: float = FREEZE_EVERY_S,
        sweep_every_s: float = SWEEP_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if freeze_every_s <= 0 or sweep_every_s < freeze_every_s:
            raise ValueError(
                f"need 0 < freeze_every_s <= sweep_every_s, got {freeze_every_s}, {sweep_every_s}"
            )
        self._live_sessions = live_sessions
        self.freeze_every_s = freeze_every_s
        self.sweep_every_s = sweep_every_s
        self._clock = clock
        self._last_sweep = clock()
        self._frozen_busy = False  # objects of live sessions moved since the last sweep
        self.sweeps: list[Sweep] = []  # the last few, newest last (for logs and tests)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.freeze_every_s)
            self.tick()

    def tick(self) -> Sweep | None:
        """One step of the schedule: a sweep when one is due, else a freeze."""
        live = self._live_sessions()
        overdue = self._clock() - self._last_sweep >= self.sweep_every_s
        if overdue or (live == 0 and self._frozen_busy):
            return self.sweep(live)
        gc.collect(1)  # the young generations first: what is garbage now is not moved
        gc.freeze()
        self._frozen_busy = self._frozen_busy or live > 0
        return None

    def sweep(self, live: int) -> Sweep:
        """Collect everything, moved objects included, then move the survivors again."""
        started = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        done = Sweep(collected, time.perf_counter() - started, live)
        self._last_sweep = self._clock()
        self._frozen_busy = False
        self.sweeps = [*self.sweeps[-9:], done]
        log.debug(
            "collector sweep: %d unreachable objects, %.1f ms, %d live sessions",
            collected,
            done.pause_s * 1000,
            live,
            extra={"collected": collected, "pause_ms": done.pause_s * 1000, "sessions": live},
        )
        return done


def start_schedule(
    sweep_every_s: float, live_sessions: Callable[[], int]
) -> asyncio.Task[None] | None:
    """Run a schedule in the current loop (``serve --gc-sweep``); None when ``sweep_every_s``
    is 0, which leaves Python's own schedule. A sweep is never due more often than the
    freezes that would make it needed."""
    if not sweep_every_s:
        return None
    schedule = CollectorSchedule(live_sessions, sweep_every_s=max(sweep_every_s, FREEZE_EVERY_S))
    return asyncio.get_running_loop().create_task(schedule.run(), name="collector schedule")
