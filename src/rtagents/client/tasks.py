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

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """A background task of this session: cancelled (and awaited) when it ends."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_report_crash)
        return task

    async def stop(self) -> None:
        """Cancel every task but the caller's own, and wait until they ended."""
        current = asyncio.current_task()
        others = [t for t in self._tasks if t is not current and not t.done()]
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others)


def _report_crash(task: asyncio.Task[Any]) -> None:
    """A background task died of a bug: say so (and mark the exception retrieved)."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("session task %s failed", task.get_name(), exc_info=exc)
