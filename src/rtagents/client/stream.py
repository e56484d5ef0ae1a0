"""The buffer behind ``async for event in session`` and the waiters of ``wait_for``.

Both must end when the session ends: the most common complaint about realtime
SDKs is an ``async for`` that hangs after a clean close, or a waiter that is
never woken. Here :meth:`EventStream.end` and :meth:`Waiters.fail_all` are the
only ways out, and the session calls both on every path to CLOSED or FAILED.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..protocol.errors import RealtimeError
from .events import type_of

Predicate = Callable[[Any], bool]
T = TypeVar("T")


async def result_within(
    future: asyncio.Future[T],
    timeout: float | None,  # noqa: ASYNC109 - callers pass the deadline of their own API
    on_timeout: Callable[[], Exception],
) -> T:
    """``future``'s result, or ``on_timeout()`` raised after ``timeout`` seconds."""
    try:
        done, _ = await asyncio.wait({future}, timeout=timeout)
        if not done:
            raise on_timeout()
        return future.result()
    finally:
        release(future)


def release(future: asyncio.Future[Any]) -> None:
    """Cancel ``future`` if pending, else mark its exception retrieved; idempotent.

    The session fails every waiter when it ends, including ones whose caller
    already gave up: without this, asyncio warns that the exception was never
    retrieved.
    """
    if future.done() and not future.cancelled():
        future.exception()
    future.cancel()


class EventStream:
    """A bounded FIFO of delivered events that can be ended.

    Events are buffered from the start of the session so none is lost between
    sending a request and starting to iterate. If nobody reads, the oldest
    events are dropped once ``capacity`` is reached (:meth:`push` says so),
    which keeps memory bounded for applications that only use handlers.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError(f"stream capacity must be at least 1, got {capacity}")
        self._items: deque[object] = deque()
        self._capacity = capacity
        self._ended = False
        self._ready = asyncio.Event()

    @property
    def ended(self) -> bool:
        return self._ended

    def __len__(self) -> int:
        return len(self._items)

    def push(self, event: object) -> bool:
        """Buffer ``event``; False if the oldest event was dropped to make room."""
        dropped = len(self._items) >= self._capacity
        if dropped:
            self._items.popleft()
        self._items.append(event)
        self._ready.set()
        return not dropped

    def end(self) -> None:
        """No more events will come: readers drain what is buffered, then stop."""
        self._ended = True
        self._ready.set()

    async def get(self) -> object:
        """The next event; ``StopAsyncIteration`` once ended and drained."""
        while not self._items:
            if self._ended:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


@dataclass(slots=True)
class _Waiter:
    types: frozenset[str]
    predicate: Predicate | None
    future: asyncio.Future[Any]


class Waiters:
    """Futures waiting for the next event of some types (and matching a predicate)."""

    def __init__(self) -> None:
        self._waiting: list[_Waiter] = []
        self._failure: RealtimeError | None = None

    def add(self, types: frozenset[str], predicate: Predicate | None) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._failure is not None:
            future.set_exception(self._failure)
        else:
            self._waiting.append(_Waiter(types, predicate, future))
        return future

    def discard(self, future: asyncio.Future[Any]) -> None:
        self._waiting = [w for w in self._waiting if w.future is not future]

    def offer(self, event: object) -> None:
        """Resolve every waiter that ``event`` satisfies."""
        if not self._waiting:
            return
        etype = type_of(event)
        for waiter in self._waiting:
            if waiter.future.done() or etype not in waiter.types:
                continue
            try:
                matched = waiter.predicate is None or waiter.predicate(event)
            except Exception as exc:  # the caller's predicate is buggy: tell the caller
                waiter.future.set_exception(exc)
                continue
            if matched:
                waiter.future.set_result(event)
        self._waiting = [w for w in self._waiting if not w.future.done()]

    def fail_all(self, error: RealtimeError) -> None:
        """Wake every waiter (now and later) with ``error``: the session is over."""
        self._failure = error
        for waiter in self._waiting:
            if not waiter.future.done():
                waiter.future.set_exception(error)
        self._waiting.clear()
