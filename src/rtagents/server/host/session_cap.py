"""The session cap: like a hosted session, one ends after ``session_cap_s``, saying why.

A gateway policy's shorter ``max_session_s`` takes its place, and says so.

The wait is ``ServerConfig.sleep`` (``asyncio.sleep`` in production, a
FakeClock's sleep in tests), so tests reach the cap without waiting for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ...protocol.errors import RemoteProtocolError
from ...transports.base import GOING_AWAY
from ..config import ServerConfig

# How a host closes from its side: (code, reason, notice to send first).
Shutdown = Callable[[int, str, RemoteProtocolError], Awaitable[None]]


class SessionCap:
    """Closes one session once its time is up."""

    def __init__(self, limits: ServerConfig, shutdown: Shutdown) -> None:
        self._limits = limits
        self._shutdown = shutdown
        self._task: asyncio.Task[None] | None = None
        self.reached = False

    def start(self, name: str) -> None:
        self._task = asyncio.create_task(self._enforce(), name=name)

    async def stop(self) -> None:
        """Stop waiting; once reached, it is closing the session: let it finish."""
        if self._task is None:
            return
        task, self._task = self._task, None
        if not self.reached:
            task.cancel()
        # Dropped before it is awaited: a cancelled task keeps its CancelledError,
        # whose traceback holds _enforce's frame, and so this cap, the host and the
        # whole session, in a cycle that only a full collection would free.
        await asyncio.gather(task, return_exceptions=True)
        self._shutdown = _stopped  # a bound method of the host: a cycle through it

    async def _enforce(self) -> None:
        cap_s = self._limits.session_length_s  # the gateway policy's, when shorter
        await self._limits.sleep(cap_s)
        self.reached = True
        message = reason = f"Your session hit the maximum duration of {duration_text(cap_s)}."
        if cap_s < self._limits.session_cap_s:
            reason = f"gateway policy: maximum session length {duration_text(cap_s)}"
            message = (
                f"Your session hit this gateway's maximum session length of "
                f"{duration_text(cap_s)} (policy.max_session_s); open a new session to go on."
            )
        await self._shutdown(
            GOING_AWAY, reason, RemoteProtocolError(message, code="session_expired")
        )


async def _stopped(code: int, reason: str, notice: RemoteProtocolError) -> None:
    """A stopped cap closes nothing."""


def duration_text(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds:g} seconds"
