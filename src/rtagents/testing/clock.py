"""A clock tests move by hand: a time source (``clock()``) and an ``asyncio.sleep`` stand-in.

Secret expiry, session caps, the stall watchdog and the rollover read an
injected clock instead of :func:`time.time`/:func:`time.monotonic`, and wait
with an injected ``sleep`` instead of :func:`asyncio.sleep`, so a test can
jump ten minutes ahead in no time and assert exactly what happens at the
boundary: a task sleeping on the clock wakes when :meth:`FakeClock.advance`
moves the clock to or past its deadline, and not before.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

DEFAULT_START = 1_700_000_000.0  # a plausible Unix time, so timestamps look real


class FakeClock:
    """Returns the same time until :meth:`advance` (or :meth:`set`) moves it; never goes back."""

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        # (deadline, order of arrival, future): the heap wakes sleepers in deadline order.
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._watchers: list[asyncio.Future[None]] = []

    def __call__(self) -> float:
        return self._now

    @property
    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0), wake the sleepers now due, return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds!r}) needs seconds >= 0")
        self._now += seconds
        self._wake_due()
        return self._now

    def set(self, when: float) -> None:
        """Jump to ``when`` (not earlier than now) and wake the sleepers now due."""
        if when < self._now:
            raise ValueError(f"a clock cannot go back: set({when!r}) is before now ({self._now!r})")
        self._now = float(when)
        self._wake_due()

    async def sleep(self, seconds: float) -> None:
        """Like :func:`asyncio.sleep`, on this clock: returns once it reads ``now + seconds``.

        ``seconds <= 0`` only yields to the loop, as :func:`asyncio.sleep(0)` does.
        A cancelled sleeper simply stops waiting.
        """
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), woken))
        for watcher in self._watchers:
            if not watcher.done():
                watcher.set_result(None)
        try:
            await woken
        except asyncio.CancelledError:
            self._sleepers = [entry for entry in self._sleepers if entry[2] is not woken]
            heapq.heapify(self._sleepers)
            raise

    @property
    def sleepers(self) -> int:
        """How many tasks are sleeping on this clock now."""
        return sum(1 for _, _, woken in self._sleepers if not woken.done())

    @property
    def next_deadline(self) -> float | None:
        """When the earliest sleeper wakes, or ``None`` when nobody sleeps."""
        pending = [deadline for deadline, _, woken in self._sleepers if not woken.done()]
        return min(pending, default=None)

    async def until_sleeping(self, count: int = 1) -> None:
        """Wait until at least ``count`` tasks sleep on this clock (bound it with a timeout).

        A test advances the clock only once the code under test is waiting on
        it; waiting for that, rather than for wall time, keeps it exact.
        """
        while self.sleepers < count:
            watcher: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._watchers.append(watcher)
            try:
                await watcher
            finally:
                self._watchers.remove(watcher)

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, woken = heapq.heappop(self._sleepers)
            if not woken.done():
                woken.set_result(None)

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"
