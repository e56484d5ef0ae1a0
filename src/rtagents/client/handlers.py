"""Event handlers: registration, ordered dispatch, and duplicate suppression.

Handlers run in a task of their own, one event at a time in arrival order, so a
handler may itself await the session (``update_session``, ``wait_for``)
without blocking the reader that would deliver the answer. A handler that
raises is logged with its category and never stops the session.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, TypeAlias

from ..protocol.bounded import RecentDict
from .events import ERROR

Handler: TypeAlias = Callable[[Any], Awaitable[None] | None]

ALL = "*"
"""Register under this key to see every event."""

# The events on which an application runs a tool: a failure in their handlers
# is a *tool* failure, which is what the log line should say.
TOOL_EVENT_TYPES = frozenset(
    {
        "response.function_call_arguments.done",
        "response.function_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call_arguments.delta",
    }
)

log = logging.getLogger("rtagents.client.handlers")

SEEN_EVENT_IDS = 4096
"""How many recent event ids are remembered to recognise a replay after resume."""
DIGESTS_PER_ID = 4
"""Distinct frames remembered under one id; past that, collisions are delivered unreported."""


Registered: TypeAlias = tuple[tuple[Handler, bool], ...]
"""(handler, is_tool) pairs, in registration order."""


class HandlerRegistry:
    """Handlers by event type, in registration order.

    Each type maps to an immutable tuple, replaced on every change: the reader
    snapshots the handlers of each event (for ~50 audio deltas a second) with
    no copy, and a later registration never alters a snapshot already queued.
    """

    def __init__(self) -> None:
        self._by_type: dict[str, Registered] = {}

    def add(self, event_type: str, handler: Handler, *, tool: bool | None = None) -> None:
        if not callable(handler):
            raise TypeError(f"handler for {event_type!r} must be callable, got {handler!r}")
        is_tool = event_type in TOOL_EVENT_TYPES if tool is None else tool
        self._by_type[event_type] = (*self._by_type.get(event_type, ()), (handler, is_tool))

    def remove(self, event_type: str, handler: Handler) -> bool:
        entries = self._by_type.get(event_type, ())
        for index, (registered, _) in enumerate(entries):
            if registered == handler:
                self._by_type[event_type] = entries[:index] + entries[index + 1 :]
                return True
        return False

    def for_type(self, event_type: str | None) -> Registered:
        """Handlers for one type, then the catch-all ones (``ERROR`` has no catch-all)."""
        specific = self._by_type.get(event_type, ()) if event_type else ()
        catch_all = self._by_type.get(ALL, ()) if event_type != ERROR else ()
        if not catch_all:
            return specific
        return specific + catch_all if specific else catch_all


async def run_handlers(handlers: Registered, payload: object, event_type: str | None) -> None:
    """Call each handler in order; log (never raise) what they raise."""
    for handler, is_tool in handlers:
        try:
            result = handler(payload)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the session is stopping this task
            _log_failure(handler, event_type, is_tool)  # the handler's own cancellation
        except Exception:
            _log_failure(handler, event_type, is_tool)


def _log_failure(handler: Handler, event_type: str | None, is_tool: bool) -> None:
    name = getattr(handler, "__qualname__", None) or repr(handler)
    category = "tool" if is_tool else None
    log.exception(
        "%s handler %s for %r raised; the session goes on",
        "tool" if is_tool else "event",
        name,
        event_type,
        extra={
            "event_type": event_type,
            "outcome": "handler_failed",
            "category": category,
            "origin": "local",
            "handler": name,
        },
    )


class Sighting(Enum):
    """What a received ``event_id`` means, given the recent ones."""

    NEW = "new"
    REPLAY = "replay"  # same id, same frame: a resume replay; drop it
    COLLISION = "collision"  # same id, other content: a server bug; deliver and report
    COLLISION_AGAIN = "collision_again"  # one more content under a reported id


class SeenIds:
    """The last ``capacity`` event ids, each with digests of the frames that carried it.

    The digests tell a replay (the same frame again, dropped) from a collision
    (a different event under a repeated id, which must not be lost). Memory
    stays bounded: ``capacity`` ids, at most :data:`DIGESTS_PER_ID` digests each.
    """

    def __init__(self, capacity: int = SEEN_EVENT_IDS) -> None:
        self._ids: RecentDict[str, tuple[int | None, ...]] = RecentDict(capacity)

    def __len__(self) -> int:
        return len(self._ids)

    def sight(self, event_id: str | None, digest: int | None = None) -> Sighting:
        """Classify (and remember) ``event_id`` carried by a frame whose digest is ``digest``.

        A None id is always new; a None digest (the frame is unknown) cannot
        tell a collision, so a repeat of it counts as a replay, as before.
        """
        if event_id is None:
            return Sighting.NEW
        known = self._ids.get(event_id)
        if known is None:
            self._ids[event_id] = (digest,)
            return Sighting.NEW
        if digest is None or digest in known or None in known:
            return Sighting.REPLAY
        if len(known) >= DIGESTS_PER_ID:
            return Sighting.COLLISION_AGAIN
        self._ids[event_id] = (*known, digest)
        return Sighting.COLLISION
