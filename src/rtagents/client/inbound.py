"""What happens to each received event: the reader's whole pipeline, without I/O.

Order matters and is the same for every event: drop replays (same
``event_id`` on the same frame; the same id on *another* frame is a server
bug, delivered and reported once as ``duplicate_event_id``), log, apply to
the conversation mirror and to pending ``session.update`` acks, then
deliver to waiters, the ``async for`` stream and the handler task. An
unknown event is delivered like any other; an invalid one is delivered with
its error *and* still applied, so bookkeeping never stalls.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from openai.types.realtime import RealtimeErrorEvent

from ..observability.event_log import EventLog
from ..protocol.codec import InvalidEvent, UnknownEvent
from ..protocol.conversation import Conversation
from ..protocol.errors import RealtimeError, RemoteProtocolError, error_from_payload
from .asked import AskedConfig
from .events import ERROR, event_id_of, type_of
from .handlers import HandlerRegistry, Registered, SeenIds, Sighting, run_handlers
from .stream import EventStream, Waiters

log = logging.getLogger("rtagents.client.session")

_Dispatch = tuple[Registered, object, str | None]

ERRORS_KEPT = 100
UNKNOWN_TYPES_LOGGED = 256  # past this many distinct unknown types, new ones go unlogged
DUPLICATE_EVENT_ID = "duplicate_event_id"
"""Code of the error raised when the server reuses an event id for another event."""
_SESSION_TYPES = frozenset({"session.created", "session.updated"})


def classify(event: object) -> RealtimeError | None:
    """The classified error an event carries: a server ``error``, or a bad event."""
    if isinstance(event, InvalidEvent):
        if event.type == "error" and event.data is not None:
            payload = event.data.get("error")
            if isinstance(payload, dict) and isinstance(payload.get("message"), str):
                return _from_wire(payload)
        return event.error
    if isinstance(event, RealtimeErrorEvent):
        wire = event.error
        return error_from_payload(
            error_type=wire.type,
            code=wire.code,
            message=wire.message,
            param=wire.param,
            event_id=wire.event_id,
        )
    return None


def _from_wire(payload: dict[str, Any]) -> RealtimeError:
    def text(key: str) -> str | None:
        value = payload.get(key)
        return value if isinstance(value, str) else None

    return error_from_payload(
        error_type=text("type"),
        code=text("code"),
        message=text("message") or "",
        param=text("param"),
        event_id=text("event_id"),
    )


def _digest(raw: str | bytes | None) -> int | None:
    """A cheap fingerprint of a frame (Python's hash: one pass, no copy)."""
    return None if raw is None else hash(raw)


def describe_close(code: int | None, reason: str | None) -> str:
    """`` (code 1001: session cap reached)``, or nothing if the close is unknown."""
    if code is None:
        return ""
    return f" (code {code}: {reason})" if reason else f" (code {code})"


class Inbound:
    """State fed by received events, and the consumers they are delivered to."""

    def __init__(self, event_log: EventLog, *, stream_capacity: int = 10_000) -> None:
        self.conversation = Conversation()
        self.config: Any = None
        self.stream = EventStream(stream_capacity)
        self.waiters = Waiters()
        self.handlers = HandlerRegistry()
        self.errors: deque[RealtimeError] = deque(maxlen=ERRORS_KEPT)
        self.pending_updates: deque[tuple[str, asyncio.Future[Any]]] = deque()
        self.asked = AskedConfig()
        """The config a rebuild restores (see :mod:`.asked`)."""
        self.dispatch_queue: asyncio.Queue[_Dispatch | None] = asyncio.Queue()
        self._log = event_log
        # Called with each new event after bookkeeping, before delivery: the
        # response gate and the tool runner, which must see events in order.
        self.observers: list[Callable[[object], None]] = []
        self._seen = SeenIds()
        self._unknown_logged: set[str] = set()
        self._dropped_logged = False

    def ingest(self, event: object, raw: str | bytes | None = None) -> None:
        """Handle one received event; ``raw`` (its frame) tells a replay from a collision."""
        etype, event_id = type_of(event), event_id_of(event)
        sighting = self._seen.sight(event_id, _digest(raw))
        if sighting is Sighting.REPLAY:
            self._log.inbound(etype, event_id, outcome="duplicate")
            return
        collided = sighting is not Sighting.NEW
        error = classify(event)
        self._log_inbound(event, etype, event_id, error)
        self._apply(event, etype, error, fresh=collided)
        self._observe(event)
        if error is not None:
            self.errors.append(error)
        self.emit(etype, event)
        if error is not None:
            self._dispatch(ERROR, error)
        if sighting is Sighting.COLLISION:
            self._report_collision(etype, event_id)

    def absorb(self, event: object, raw: str | bytes | None = None) -> None:
        """Bookkeeping only, no delivery: the echo of a rebuild's own replay."""
        etype, event_id = type_of(event), event_id_of(event)
        sighting = self._seen.sight(event_id, _digest(raw))
        if sighting is Sighting.REPLAY:
            return
        self._log.inbound(etype, event_id, outcome="replay_echo")
        self._apply(event, etype, classify(event), acks=False, fresh=sighting is not Sighting.NEW)
        self._observe(event)
        if sighting is Sighting.COLLISION:
            self._report_collision(etype, event_id)

    def _report_collision(self, etype: str | None, event_id: str | None) -> None:
        """A repeated ``event_id`` on different content: the server's bug, said once.

        The event was delivered (dropping it as a replay would lose it
        silently); the error goes to the log, :attr:`errors` and ``on_error``.
        """
        error = RemoteProtocolError(
            f"The server sent event_id {event_id!r} again on a different event ({etype}): "
            "event ids must be unique, so this is a server bug. Both events were delivered; "
            "handlers keyed by event_id may see the id twice.",
            code=DUPLICATE_EVENT_ID,
            event_id=event_id,
        )
        self._log.inbound(etype, event_id, outcome="duplicate_event_id", error=error)
        self.errors.append(error)
        self._dispatch(ERROR, error)

    def _observe(self, event: object) -> None:
        for observer in self.observers:
            try:
                observer(event)
            except Exception:  # an observer bug must not stop the reader
                log.exception("a client observer failed on %r; the session goes on", event)

    def emit(self, etype: str | None, event: object) -> None:
        """Deliver to waiters, the stream and the handler task."""
        self.waiters.offer(event)
        if not self.stream.push(event) and not self._dropped_logged:
            self._dropped_logged = True
            log.warning(
                "nobody reads the event stream: dropping the oldest buffered events "
                "(iterate the session, or only use handlers and ignore this)",
                extra={"outcome": "dropped", "event_type": etype},
            )
        self._dispatch(etype, event)

    def report(self, error: RealtimeError) -> None:
        """Hand a locally detected error to the ``on_error`` handlers."""
        self._dispatch(ERROR, error)

    def _dispatch(self, etype: str | None, payload: object) -> None:
        # Handlers are chosen now: one registered later does not see older events.
        handlers = self.handlers.for_type(etype)
        if handlers:
            self.dispatch_queue.put_nowait((handlers, payload, etype))

    def finish(self, error: RealtimeError) -> None:
        """The session is over: wake waiters and acks, end the stream and the handlers."""
        self.waiters.fail_all(error)
        for _, future in self.pending_updates:
            if not future.done():
                future.set_exception(error)
        self.stream.end()
        self.dispatch_queue.put_nowait(None)

    async def dispatch_loop(self) -> None:
        """Run handlers, one event at a time, until :meth:`finish`."""
        while (item := await self.dispatch_queue.get()) is not None:
            await run_handlers(*item)

    def _log_inbound(
        self, event: object, etype: str | None, event_id: str | None, error: RealtimeError | None
    ) -> None:
        if isinstance(event, UnknownEvent):
            logged = self._unknown_logged
            if event.type not in logged and len(logged) < UNKNOWN_TYPES_LOGGED:  # never a flood
                self._unknown_logged.add(event.type)
                self._log.inbound(etype, event_id, outcome="unknown")
        elif isinstance(event, InvalidEvent):
            self._log.inbound(etype, event_id, outcome="invalid", error=error)
        elif error is not None:
            self._log.inbound(etype, event_id, outcome="error", error=error)
        else:
            self._log.inbound(etype, event_id)

    def _apply(
        self,
        event: object,
        etype: str | None,
        error: RealtimeError | None,
        *,
        acks: bool = True,
        fresh: bool = False,
    ) -> None:
        """Bookkeeping: conversation mirror, effective config, pending acks."""
        try:
            self.conversation.apply(event, fresh=fresh)
        except Exception:  # a reducer bug must not stop the reader
            log.exception("the conversation mirror failed on %r; the session goes on", etype)
        if etype in _SESSION_TYPES and not isinstance(event, InvalidEvent | UnknownEvent):
            self.config = getattr(event, "session", None)
            server_id = getattr(self.config, "id", None)
            if isinstance(server_id, str):
                self._log.session_id = server_id  # log lines now match the server's
        if not acks:
            return
        if etype == "session.updated":
            self.asked.answered()
            self._resolve_update(event)
        elif error is not None and error.event_id is not None:
            self.asked.withdrawn(error.event_id)
            self._reject_update(error)

    def _resolve_update(self, event: object) -> None:
        """``session.updated`` carries no client event id: it answers the oldest update."""
        for _, future in self.pending_updates:
            if not future.done():
                if isinstance(event, InvalidEvent):
                    future.set_exception(event.error)
                else:
                    future.set_result(event)
                return

    def _reject_update(self, error: RealtimeError) -> None:
        for event_id, future in self.pending_updates:
            if event_id == error.event_id and not future.done():
                future.set_exception(error)

    def restored(self, event_ids: list[str], answer: object) -> None:
        """A rebuild applied these updates (their own answers died with the old connection)."""
        self.asked.applied(event_ids)
        for event_id, future in self.pending_updates:
            if event_id in event_ids and not future.done():
                future.set_result(answer)
