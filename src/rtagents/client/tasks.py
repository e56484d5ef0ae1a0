"""The background tasks of one session: started in one place, all stopped when it ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeAlias, TypeVar

log = logging.getLogger("rtagents.client.session")
T = TypeVar("T")
Spawn: TypeAlias = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]
"""Start a background task of the session: ``spawn(coro, name)``."""


class SessionTasks:
    """Tasks a session (or its tool runner, reconnector, upkeep) started."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._handlers: asyncio.Task[None] | None = None  # drained, not cancelled, at the end

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """A background task of this session: cancelled (and awaited) when it ends."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_report_crash)
        return task

    def start_handlers(self, dispatch_loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start the task that runs the app's handlers (once; it ends when the session does)."""
        if self._handlers is None:
            self._handlers = asyncio.create_task(dispatch_loop(), name="rtagents-handlers")

    async def stop(self, *, drain_timeout: float) -> None:
        """Cancel every task but the caller's own; let the handlers drain, then stop them."""
        current = asyncio.current_task()
        others = [t for t in self._tasks if t is not current and not t.done()]
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others)
        handlers = self._handlers
        if handlers is not None and handlers is not current and not handlers.done():
            # Handlers first see the final events (the last lifecycle change).
            await asyncio.wait({handlers}, timeout=drain_timeout)
            if not handlers.done():
                handlers.cancel()
                await asyncio.wait({handlers})


def _report_crash(task: asyncio.Task[Any]) -> None:
    """A background task died of a bug: say so (and mark the exception retrieved)."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("session task %s failed", task.get_name(), exc_info=exc)
