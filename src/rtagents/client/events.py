"""What a client session delivers besides the server's own events.

The stream of a :class:`~rtagents.client.session.Session` carries the decoded
server events (openai models, ``UnknownEvent``, ``InvalidEvent``) and, mixed in
at the moment they happen, :class:`LifecycleEvent` s. Putting lifecycle changes
in the same stream is what lets an application see *when* a session went from
configuring to active, or why it ended, in order with everything else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

from ..protocol.errors import ConnectionFailure, Origin, RealtimeError

if TYPE_CHECKING:
    from ..protocol.codec import Decoded
    from ..protocol.lifecycle import State, Trigger

LIFECYCLE: Final = "rtagents.lifecycle"
"""Event type of :class:`LifecycleEvent`, usable with ``session.on`` and ``wait_for``."""

ERROR: Final = "rtagents.error"
"""Handler key for classified errors (``session.on_error`` registers under it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LifecycleEvent:
    """The session moved from ``source`` to ``target`` because of ``trigger``."""

    source: State
    target: State
    trigger: Trigger
    cause: str | None = None
    type: Literal["rtagents.lifecycle"] = LIFECYCLE
    event_id: None = None


STALLED: Final = "rtagents.stalled"
RECONNECTING: Final = "rtagents.reconnecting"
RESUMED: Final = "rtagents.resumed"
FAILED: Final = "rtagents.failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class StalledEvent:
    """The server sent nothing for too long while a response was active.

    ``error`` is the classified ``connection`` error (code ``response_stalled``);
    with reconnect on, the connection is dropped and the session resumes.
    """

    error: RealtimeError
    type: Literal["rtagents.stalled"] = STALLED
    event_id: None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectingEvent:
    """Reconnect attempt ``attempt`` starts after ``delay`` seconds, because of ``cause``."""

    attempt: int
    delay: float
    cause: str
    type: Literal["rtagents.reconnecting"] = RECONNECTING
    event_id: None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumedEvent:
    """The session is back. ``rebuilt``: a fresh server session with the conversation
    replayed (the server could not resume); else the server resumed it, losing nothing.
    ``reason`` is ``"reconnect"`` after a drop or ``"rollover"`` before the session cap."""

    rebuilt: bool
    attempts: int
    reason: Literal["reconnect", "rollover"] = "reconnect"
    session_id: str | None = None
    type: Literal["rtagents.resumed"] = RESUMED
    event_id: None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FailedEvent:
    """Reconnecting gave up; ``error`` (category ``connection``) says why each attempt failed."""

    error: RealtimeError
    attempts: int
    type: Literal["rtagents.failed"] = FAILED
    event_id: None = None


SessionEvent: TypeAlias = (
    "Decoded | LifecycleEvent | StalledEvent | ReconnectingEvent | ResumedEvent | FailedEvent"
)
"""Anything ``async for event in session`` yields."""


class EventTimeout(ConnectionFailure, TimeoutError):
    """An awaited event did not arrive in time (also a ``TimeoutError``)."""

    def __init__(self, message: str, *, event_id: str | None = None) -> None:
        super().__init__(message, origin=Origin.REMOTE, code="timeout", event_id=event_id)


def new_event_id() -> str:
    """A fresh client event id; the server echoes it in any ``error`` it causes."""
    return "evt_" + secrets.token_hex(10)


def type_of(event: object) -> str | None:
    """The ``type`` of any delivered event (models, pass-throughs, lifecycle)."""
    value: Any = getattr(event, "type", None)
    return value if isinstance(value, str) else None


def event_id_of(event: object) -> str | None:
    value: Any = getattr(event, "event_id", None)
    return value if isinstance(value, str) else None
