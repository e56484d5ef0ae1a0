"""A place taken from a bounded pool (the connection cap, a key's quota), given back once.

It is given back by ``release()``, on leaving its ``with`` block, or when an
event is set (a WebRTC call's end, whatever ends it); releasing twice gives
back one place.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class HeldPlace(ABC):
    """One place in a pool; subclasses say whether it is held and how it goes back."""

    def __init__(self, watchers: set[asyncio.Task[None]]) -> None:
        self._watchers = watchers  # the pool's: tasks that give places back when calls end

    @property
    @abstractmethod
    def holding(self) -> bool:
        """The place is held now (taken and not yet given back)."""

    @abstractmethod
    def release(self) -> None:
        """Give the place back (a no-op when it is not held)."""

    def release_when(self, ended: asyncio.Event) -> None:
        """Give the place back once ``ended`` is set."""
        if not self.holding:
            return

        async def release_at_end() -> None:
            try:
                await ended.wait()
            finally:
                self.release()

        task = asyncio.create_task(release_at_end(), name=f"rtagents-{type(self).__name__}")
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
