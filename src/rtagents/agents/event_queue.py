"""The bounded buffer behind ``async for event in agent_session``."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

log = logging.getLogger("rtagents.agents")


class EventQueue:
    """FIFO that drops its oldest event when full (an app that never reads stays bounded)
    and ends: readers drain what is buffered, then stop."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError(f"event capacity must be at least 1, got {capacity}")
        self._items: deque[object] = deque()
        self._capacity = capacity
        self._ended = False
        self._ready = asyncio.Event()
        self.dropped = 0

    @property
    def ended(self) -> bool:
        return self._ended

    def push(self, event: object) -> None:
        if self._ended:
            return
        if len(self._items) >= self._capacity:
            self._items.popleft()
            if not self.dropped:
                log.warning(
                    "agent events are not read; dropping the oldest (capacity %d)", self._capacity
                )
            self.dropped += 1
        self._items.append(event)
        self._ready.set()

    def end(self) -> None:
        self._ended = True
        self._ready.set()

    async def get(self) -> object:
        while not self._items:
            if self._ended:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()
