"""A clock tests move by hand, for code that takes ``clock: Callable[[], float]``.

Secret expiry, session caps and timeouts read the injected clock instead of
:func:`time.time`, so a test can jump ten minutes ahead in no time and assert
exactly what happens at the boundary.
"""

from __future__ import annotations

DEFAULT_START = 1_700_000_000.0  # a plausible Unix time, so timestamps look real


class FakeClock:
    """Returns the same time until :meth:`advance` (or :meth:`set`) moves it; never goes back."""

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)

    def __call__(self) -> float:
        return self._now

    @property
    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds!r}) needs seconds >= 0")
        self._now += seconds
        return self._now

    def set(self, when: float) -> None:
        """Jump to ``when`` (not earlier than now)."""
        if when < self._now:
            raise ValueError(f"a clock cannot go back: set({when!r}) is before now ({self._now!r})")
        self._now = float(when)

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"
