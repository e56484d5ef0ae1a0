"""A client session: lifecycle, the reader task, closing, and sending.

One reader task owns the transport's receive side and hands every message to
:class:`~.inbound.Inbound`; nothing a peer sends can stop that loop, only the
transport closing does, and then every consumer is woken. Every lifecycle
transition is logged and delivered in the event stream as a
:class:`~.events.LifecycleEvent`, in order with the server's events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from ..observability.logging import EventLog
from ..protocol.codec import decode_server_event
from ..protocol.errors import ConnectionFailure, LocalProtocolError, Origin, RealtimeError
from ..protocol.lifecycle import Lifecycle, State, Transition, Trigger
from ..transports.base import ABNORMAL_CLOSURE, NORMAL_CLOSURE, Transport, TransportClosed
from .commands import SessionCommands, as_plain
from .consuming import Consuming
from .credentials import Credentials, resolve_credentials
from .events import LIFECYCLE, LifecycleEvent, new_event_id
from .inbound import Inbound, classify, describe_close
from .opening import TransportOpener, open_transport

if TYPE_CHECKING:
    from ..protocol.conversation import Conversation

log = logging.getLogger("rtagents.client.session")


class Session(SessionCommands, Consuming):
    """One Realtime session; create it with :func:`rtagents.connect`."""

    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials,
        config: Mapping[str, Any] | BaseModel | None = None,
        headers: Mapping[str, str] | None = None,
        open_timeout: float = 10.0,
        ack_timeout: float = 10.0,
        opener: TransportOpener = open_transport,
        stream_capacity: int = 10_000,
        drain_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.open_timeout = open_timeout
        self.ack_timeout = ack_timeout
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._credentials = credentials
        self._initial_config = as_plain(config) if config is not None else None
        self._headers = dict(headers or {})
        self._opener = opener
        self._drain_timeout = drain_timeout
        self._log = EventLog(new_event_id().replace("evt_", "cs_", 1), side="client")
        self._inbound = Inbound(self._log, stream_capacity=stream_capacity)
        self._lifecycle = Lifecycle()
        self._lifecycle.subscribe(self._on_transition)
        self._transport: Transport | None = None
        self._reader: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._closing = False
        self._finished = asyncio.Event()

    def __repr__(self) -> str:
        server_id = f" {self.session_id}" if self.session_id else ""
        return f"<Session {self.state}{server_id} {self.url}>"

    @property
    def state(self) -> State:
        return self._lifecycle.state

    @property
    def lifecycle(self) -> Lifecycle:
        """The state machine; ``lifecycle.history`` lists every transition so far."""
        return self._lifecycle

    @property
    def conversation(self) -> Conversation:
        """The client's mirror of the server's conversation, item by item."""
        return self._inbound.conversation

    @property
    def config(self) -> Any:
        """The effective session config, from the last ``session.created``/``updated``."""
        return self._inbound.config

    @property
    def session_id(self) -> str | None:
        """The server's session id, when it sends one (OpenAI and rtagents do)."""
        value = getattr(self._inbound.config, "id", None)
        return value if isinstance(value, str) else None

    @property
    def errors(self) -> list[RealtimeError]:
        """The latest classified errors received (server ``error`` events, invalid events)."""
        return list(self._inbound.errors)

    @property
    def closed(self) -> bool:
        """True once the session has ended (closed by either side, or failed)."""
        return self._finished.is_set()

    # -- opening ------------------------------------------------------------------

    async def open(self) -> Session:
        """Authenticate, open the transport, and wait until the session is configured."""
        if self._lifecycle.state is not State.IDLE:
            raise LocalProtocolError(
                f"open() was already called (the session is {self.state})", code="invalid_state"
            )
        try:
            self._advance(Trigger.START)
            key = await resolve_credentials(self._credentials)
            self._advance(Trigger.AUTHENTICATED)
            headers = {**self._headers, "Authorization": f"Bearer {key}"}
            self._transport = await self._opener(self.url, headers, self.open_timeout)
            self._advance(Trigger.TRANSPORT_OPENED)
            self._start_tasks(self._transport)
            await self._configure()
            self._advance(Trigger.CONFIGURED)
        except BaseException as exc:
            await self._abort(exc)
            raise
        return self

    def _advance(self, trigger: Trigger) -> None:
        """One step of opening, unless ``close()`` was called while we awaited."""
        if self._closing:
            raise ConnectionFailure(
                "the session was closed by the client while opening",
                origin=Origin.LOCAL,
                code="session_closed",
            )
        self._lifecycle.fire(trigger)

    async def _configure(self) -> None:
        """Wait for ``session.created``, then apply the initial config if one was given."""
        first = await self.wait_for(("session.created", "error"), timeout=self.ack_timeout)
        error = classify(first)
        if error is not None:
            raise error
        if self._initial_config is not None:
            await self.update_session(self._initial_config)

    def _start_tasks(self, transport: Transport) -> None:
        self._reader = asyncio.create_task(self._read_loop(transport), name="rtagents-reader")
        self._dispatcher = asyncio.create_task(
            self._inbound.dispatch_loop(), name="rtagents-handlers"
        )

    async def __aenter__(self) -> Session:
        if self._lifecycle.state is State.IDLE:
            await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> Literal[False]:
        await self.close()
        return False

    # -- closing ------------------------------------------------------------------

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the session; idempotent. Wakes every waiter and ends ``async for``."""
        if self._closing or self._finished.is_set():
            await self._finished.wait()
        else:
            self._closing = True
            if self._lifecycle.can(Trigger.CLOSE_REQUESTED):
                self._lifecycle.fire(
                    Trigger.CLOSE_REQUESTED, cause=f"close({code}) called by the client"
                )
            await self._close_transport(code, reason)
            self._record_close(code, reason)
            if self._lifecycle.can(Trigger.TRANSPORT_CLOSED):
                self._lifecycle.fire(Trigger.TRANSPORT_CLOSED, cause="closed by the client")
            self._finish("the session was closed by the client")
        await self._stop_tasks()

    async def _abort(self, exc: BaseException) -> None:
        """Opening failed: record why, release everything, end in FAILED."""
        if not self._closing and self._lifecycle.can(Trigger.FATAL):
            self._lifecycle.fire(Trigger.FATAL, cause=f"{type(exc).__name__}: {exc}")
        self._closing = True
        await self._close_transport(NORMAL_CLOSURE, "")
        self._finish(f"opening the session failed: {exc}")
        await self._stop_tasks()

    async def _close_transport(self, code: int, reason: str) -> None:
        if self._transport is None:
            return
        try:
            await self._transport.close(code, reason)
        except Exception:  # best effort: the session ends either way
            log.debug("closing the transport failed", exc_info=True)

    def _record_close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    def _finish(self, why: str) -> None:
        """The session is over: wake everyone who waits on it, exactly once."""
        if self._finished.is_set():
            return
        error = ConnectionFailure(
            why + describe_close(self.close_code, self.close_reason),
            origin=Origin.LOCAL,
            code="session_closed",
        )
        self._inbound.finish(error)
        self._finished.set()

    async def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        reader, dispatcher = self._reader, self._dispatcher
        if reader is not None and reader is not current and not reader.done():
            reader.cancel()
            await asyncio.wait({reader})
        if dispatcher is not None and dispatcher is not current and not dispatcher.done():
            # Handlers first see the final events (the last lifecycle change).
            await asyncio.wait({dispatcher}, timeout=self._drain_timeout)
            if not dispatcher.done():
                dispatcher.cancel()
                await asyncio.wait({dispatcher})

    # -- reading ------------------------------------------------------------------

    async def _read_loop(self, transport: Transport) -> None:
        while True:
            try:
                raw = await transport.recv()
            except TransportClosed as exc:
                self._on_transport_closed(exc.close_code, exc.reason)
                return
            except ConnectionFailure as exc:
                self._on_transport_closed(ABNORMAL_CLOSURE, exc.message)
                return
            try:
                self._inbound.ingest(decode_server_event(raw))
            except Exception:  # a bug in our bookkeeping must not end the session
                log.exception("the client failed to process an event; the session goes on")

    def _on_transport_closed(self, code: int, reason: str) -> None:
        """The peer closed, or the connection dropped, while we were not closing."""
        if self._closing or self._finished.is_set():
            return
        self._record_close(code, reason)
        cause = "the server closed the connection" + describe_close(code, reason)
        # A drop (1006) fails the session for now; reconnect/resume will route
        # it to CONNECTION_LOST -> RECONNECTING instead.
        clean = code != ABNORMAL_CLOSURE and self._lifecycle.can(Trigger.TRANSPORT_CLOSED)
        self._lifecycle.fire(Trigger.TRANSPORT_CLOSED if clean else Trigger.FATAL, cause=cause)
        self._finish("the session closed")

    def _on_transition(self, transition: Transition) -> None:
        t = transition
        self._log.lifecycle(str(t.source), str(t.target), str(t.trigger), t.cause)
        event = LifecycleEvent(source=t.source, target=t.target, trigger=t.trigger, cause=t.cause)
        self._inbound.emit(LIFECYCLE, event)

    # -- sending ------------------------------------------------------------------

    async def _send_encoded(self, event_type: str, event_id: str, text: str) -> None:
        if self._transport is None or self._closing or self._finished.is_set():
            raise ConnectionFailure(
                f"cannot send {event_type!r}: the session is {self.state}"
                + describe_close(self.close_code, self.close_reason),
                origin=Origin.LOCAL,
                code="session_closed",
                event_id=event_id,
            )
        await self._transport.send(text)
        self._log.outbound(event_type, event_id)
