"""The ways an application receives events: ``async for``, ``wait_for`` and handlers.

All three are fed by the same reader (see :mod:`.inbound`) and all three end
with the session: the stream stops after its last buffered event, waiters
raise :class:`ConnectionFailure`, and the handler task drains and exits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Self, overload

from .events import ERROR, EventTimeout
from .handlers import Handler
from .inbound import Inbound
from .stream import Predicate, result_within


class Consuming:
    """Mixed into :class:`~rtagents.client.session.Session`."""

    _inbound: Inbound

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        return await self._inbound.stream.get()

    async def wait_for(
        self,
        event_type: str | Iterable[str],
        *,
        predicate: Predicate | None = None,
        timeout: float | None = 30.0,  # noqa: ASYNC109 - the deadline is the API
    ) -> Any:
        """The next event of ``event_type`` (and matching ``predicate``) from now on.

        Raises :class:`EventTimeout` after ``timeout`` seconds (None: no limit), and
        :class:`ConnectionFailure` as soon as the session closes.
        """
        types = frozenset((event_type,) if isinstance(event_type, str) else event_type)
        future = self._inbound.waiters.add(types, predicate)

        def timed_out() -> EventTimeout:
            names = " or ".join(repr(t) for t in sorted(types))
            return EventTimeout(f"no {names} event arrived within {timeout:g} s")

        try:
            return await result_within(future, timeout, timed_out)
        finally:
            self._inbound.waiters.discard(future)

    @overload
    def on(
        self, event_type: str, handler: None = None, *, tool: bool | None = None
    ) -> Callable[[Handler], Handler]: ...

    @overload
    def on(self, event_type: str, handler: Handler, *, tool: bool | None = None) -> Handler: ...

    def on(
        self, event_type: str, handler: Handler | None = None, *, tool: bool | None = None
    ) -> Handler | Callable[[Handler], Handler]:
        """Call ``handler(event)`` (sync or async) for every ``event_type`` event.

        Usable as a decorator: ``@session.on("response.done")``. ``"*"`` matches
        every event, ``"rtagents.lifecycle"`` every lifecycle change. Handlers run
        in registration order, one event at a time, in a task of their own.
        ``tool=True`` marks a handler that runs tools (inferred for function-call
        events): its failures are logged as tool failures.
        """
        if handler is None:

            def register(fn: Handler) -> Handler:
                self._inbound.handlers.add(event_type, fn, tool=tool)
                return fn

            return register
        self._inbound.handlers.add(event_type, handler, tool=tool)
        return handler

    def on_error(self, handler: Handler) -> Handler:
        """Call ``handler(error)`` with every classified :class:`RealtimeError` received."""
        self._inbound.handlers.add(ERROR, handler, tool=False)
        return handler

    def off(self, event_type: str, handler: Handler) -> bool:
        """Unregister ``handler``; False if it was not registered for ``event_type``."""
        return self._inbound.handlers.remove(event_type, handler)
