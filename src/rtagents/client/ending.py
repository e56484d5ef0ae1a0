"""How one session ends: once, for everyone who waits on it, saying why.

Whatever ends a session (``close()``, the server closing, opening failing,
reconnecting giving up) ends up in :meth:`Ending.finish_with`: it runs once,
wakes every waiter and update acknowledgement, ends ``async for`` and the
handler task, and leaves the reason where sends that come too late find it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..protocol.errors import ConnectionFailure, Origin, RealtimeError
from .inbound import describe_close

if TYPE_CHECKING:
    from .inbound import Inbound


class Ending:
    """The end of one session: whether it is closing, how it closed, and why it failed."""

    def __init__(self, inbound: Inbound, *, on_end: Callable[[], object]) -> None:
        self.closing = False
        """``close()`` was called, or the session failed: nothing new starts."""
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.failure: RealtimeError | None = None
        """Why the session failed (the reconnect report), once it has."""
        self._inbound = inbound
        self._on_end = on_end
        self._finished = asyncio.Event()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    async def wait(self) -> None:
        await self._finished.wait()

    def record_close(self, code: int, reason: str) -> None:
        """The first close code seen is the one the session reports."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    def finish(self, why: str) -> None:
        """The session is over: wake everyone who waits on it, exactly once."""
        self.finish_with(
            ConnectionFailure(
                why + describe_close(self.close_code, self.close_reason),
                origin=Origin.LOCAL,
                code="session_closed",
            )
        )

    def finish_with(self, error: RealtimeError) -> None:
        if self._finished.is_set():
            return
        self._on_end()
        self._inbound.finish(error)
        self._finished.set()

    def refusal(self, event_type: str, event_id: str, state: object) -> ConnectionFailure:
        """The error a send gets once the session cannot send any more."""
        if isinstance(self.failure, ConnectionFailure):
            return self.failure
        return ConnectionFailure(
            f"cannot send {event_type!r}: the session is {state}"
            + describe_close(self.close_code, self.close_reason),
            origin=Origin.LOCAL,
            code="session_closed",
            event_id=event_id,
        )
