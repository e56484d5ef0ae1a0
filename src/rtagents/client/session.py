"""A client session: one object that owns its lifecycle, its parts and its live connection.

The session is composed, not inherited: :class:`~.inbound.Inbound` takes what
is received, :class:`~.outbound.Outbound` sends (checked and encoded once),
a :class:`~.connection.Connection` is the live link to one server session
(transport, numbering, resume ticket, received count, send lock) and a
reconnect swaps it as a whole. One reader task per connection hands every
frame to ``Inbound``; nothing a peer sends can stop that loop, only the
transport closing does. Then either the session ends (and every consumer is
woken) or, with a :class:`~.policy.ReconnectPolicy`, :mod:`.reconnect` brings
it back while the app's sends wait in a bounded queue. ``close()`` is
idempotent, wakes every waiter, ends ``async for`` and stops every task the
session started, whatever state it was in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel

from ..observability.logging import EventLog
from ..protocol.codec import decode_server_event
from ..protocol.errors import ConnectionFailure, LocalProtocolError, Origin, RealtimeError
from ..protocol.lifecycle import Lifecycle, State, Transition, Trigger
from ..transports.base import ABNORMAL_CLOSURE, NORMAL_CLOSURE, TransportClosed
from .asked import AskedConfig
from .commands import SessionCommands
from .connection import Connection
from .consuming import Consuming
from .credentials import Credentials
from .events import FAILED, LIFECYCLE, FailedEvent, LifecycleEvent, new_event_id
from .gate import ResponseGate
from .inbound import Inbound, describe_close
from .opening import Dialer, TransportOpener, open_transport
from .outbound import Outbound, as_plain
from .outbox import SendQueue
from .playback import PlaybackTracker
from .policy import Decision, ReconnectPolicy, decide_close
from .session_opening import open_session
from .session_parts import SessionParts
from .tasks import SessionTasks
from .tools import ToolRunner

log = logging.getLogger("rtagents.client.session")


class Session(SessionCommands, Consuming):
    """One Realtime session; create it with :func:`rtagents.connect`."""

    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials,
        reconnect: ReconnectPolicy | None = None,
        stall_timeout: float | None = 30.0,
        tool_timeout: float = 30.0,
        config: Mapping[str, Any] | BaseModel | None = None,
        headers: Mapping[str, str] | None = None,
        open_timeout: float = 10.0,
        ack_timeout: float = 10.0,
        opener: TransportOpener = open_transport,
        stream_capacity: int = 10_000,
        drain_timeout: float = 5.0,
    ) -> None:
        self.ack_timeout = ack_timeout
        self.reconnect_policy = reconnect
        self.stall_timeout = stall_timeout
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.failure: RealtimeError | None = None
        """Why the session failed (the reconnect report), once it has."""
        self.initial_config = as_plain(config) if config is not None else None
        """The config sent as ``session.update`` before ``open()`` returns, if any."""
        self._drain_timeout = drain_timeout
        self._log = EventLog(new_event_id().replace("evt_", "cs_", 1), side="client")
        self._inbound = Inbound(self._log, stream_capacity=stream_capacity)
        if self.initial_config is not None:
            self._inbound.asked = AskedConfig(self.initial_config)
        self._lifecycle = Lifecycle()
        self._lifecycle.subscribe(self._on_transition)
        self._gate = ResponseGate(claim_timeout=ack_timeout)
        policy = reconnect or ReconnectPolicy()
        self._outbound = Outbound(
            self._log,
            asked=self._inbound.asked,
            gate=self._gate,
            queue=SendQueue(policy.send_queue_bytes if reconnect else 0),
            resilient=reconnect is not None,
            is_closed=self._refusing,
            closed_error=self._closed_error,
        )
        self._tasks = SessionTasks()
        self.parts = SessionParts(
            inbound=self._inbound,
            outbound=self._outbound,
            gate=self._gate,
            dialer=Dialer(
                url, credentials=credentials, headers=headers, opener=opener,
                open_timeout=open_timeout,
            ),
            tasks=self._tasks,
            ring_bytes=policy.resend_bytes if reconnect else 0,
        )  # fmt: skip
        """The session's collaborators, for reconnect, rebuild and rollover."""
        self._dispatcher: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._closing = False
        self._finished = asyncio.Event()
        self.tools = ToolRunner(self, spawn=self._tasks.spawn, default_timeout=tool_timeout)
        """Register functions the model may call; they run here, once per call."""
        self.playback = PlaybackTracker(self)
        """Feed it what the user heard; it truncates at the right place on barge-in."""
        self._inbound.observers.append(self._observe)
        if reconnect is not None and isinstance(credentials, str) and credentials.startswith("ek_"):
            log.warning(
                "reconnect is on but credentials is a fixed ek_ secret: reconnects after it "
                "expires will be refused (401); pass a callable that mints a fresh one"
            )

    def __repr__(self) -> str:
        server_id = f" {self.session_id}" if self.session_id else ""
        return f"<Session {self.state}{server_id} {self.url}>"

    # -- what the app reads ------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.parts.dialer.url

    @property
    def open_timeout(self) -> float:
        return self.parts.dialer.open_timeout

    @property
    def state(self) -> State:
        return self._lifecycle.state

    @property
    def lifecycle(self) -> Lifecycle:
        """The state machine; ``lifecycle.history`` lists the recent transitions."""
        return self._lifecycle

    @property
    def connection(self) -> Connection | None:
        """The live connection (transport, numbering, resume ticket); None between two."""
        return self._outbound.connection

    @property
    def conversation(self) -> Any:
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

    # -- opening -----------------------------------------------------------------------

    async def open(self) -> Self:
        """Authenticate, open the transport, and wait until the session is configured."""
        if self._lifecycle.state is not State.IDLE:
            raise LocalProtocolError(
                f"open() was already called (the session is {self.state})", code="invalid_state"
            )
        try:
            await open_session(self)
            self._tasks.spawn(self._gate.pump(self._outbound.send_gated), "rtagents-response-gate")
            from .upkeep import upkeep

            self._tasks.spawn(upkeep(self), "rtagents-upkeep")
        except BaseException as exc:
            await self._abort(exc)
            raise
        return self

    def advance(self, trigger: Trigger, cause: str | None = None) -> None:
        """One step of opening or reconnecting, unless ``close()`` was called meanwhile."""
        if self._closing:
            raise ConnectionFailure(
                "the session was closed by the client while opening",
                origin=Origin.LOCAL,
                code="session_closed",
            )
        self._lifecycle.fire(trigger, cause=cause)

    async def __aenter__(self) -> Self:
        if self._lifecycle.state is State.IDLE:
            await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> Literal[False]:
        await self.close()
        return False

    # -- reading -----------------------------------------------------------------------

    async def install(self, connection: Connection) -> None:
        """Make ``connection`` current: start reading it, send what queued, go live."""
        self.start_reader(connection)
        await self._outbound.install(connection)

    def start_reader(self, connection: Connection) -> None:
        """Read ``connection`` until it closes (the first one also starts the handlers)."""
        self._tasks.spawn(self._read_loop(connection), "rtagents-reader")
        if self._dispatcher is None:
            self._dispatcher = asyncio.create_task(
                self._inbound.dispatch_loop(), name="rtagents-handlers"
            )

    async def _read_loop(self, connection: Connection) -> None:
        while True:
            try:
                raw = await connection.recv()
            except TransportClosed as exc:
                self._on_transport_closed(connection, exc.close_code, exc.reason)
                return
            except ConnectionFailure as exc:
                self._on_transport_closed(connection, ABNORMAL_CLOSURE, exc.message)
                return
            if connection is not self._outbound.connection:
                return  # a connection we moved away from (stall, rollover)
            connection.count(raw)
            try:
                self._inbound.ingest(decode_server_event(raw), raw)
            except Exception:  # a bug in our bookkeeping must not end the session
                log.exception("the client failed to process an event; the session goes on")

    def _observe(self, event: object) -> None:
        self._gate.observe(event, self._inbound.conversation)
        self.tools.observe(event)
        self.playback.observe(event)

    def _on_transport_closed(self, connection: Connection, code: int, reason: str) -> None:
        """The peer closed, or the connection dropped, while we were not closing."""
        if connection is not self._outbound.connection or self._refusing():
            return
        lost = connection.opening
        if self.reconnect_policy is not None and lost is not None and not lost.done():
            lost.set_result(TransportClosed(code, reason))  # opening tries again
            return
        decision, why = decide_close(code)
        cause = "the server closed the connection" + describe_close(code, reason)
        if self._reconnecting() and decision is not Decision.NEVER:
            # The attempt's new connection died before it was declared back: the
            # reconnector finishes that attempt, then starts over (see run()).
            connection.lost, connection.live = f"{cause}: {why}", False
            return
        can_retry = self.reconnect_policy is not None and self.state is State.ACTIVE
        if can_retry and decision is not Decision.NEVER:
            self.connection_lost(f"{cause}: {why}", rebuild=decision is Decision.REBUILD)
            return
        self._record_close(code, reason)
        # Without reconnect a drop (1006) fails the session; a clean close ends it.
        clean = code != ABNORMAL_CLOSURE and self._lifecycle.can(Trigger.TRANSPORT_CLOSED)
        self._lifecycle.fire(Trigger.TRANSPORT_CLOSED if clean else Trigger.FATAL, cause=cause)
        self._finish("the session closed")

    # -- losing the connection (reconnect sessions) ------------------------------------

    def _reconnecting(self) -> bool:
        running = self._reconnector is not None and not self._reconnector.done()
        return running and self.state in (State.RECONNECTING, State.CONNECTING, State.CONFIGURING)

    def connection_lost(self, cause: str, *, rebuild: bool = False) -> None:
        """Stop using the current connection and start reconnecting (reconnect sessions)."""
        from .reconnect import Reconnector

        lost = self._outbound.detach()
        if lost is not None:
            self._tasks.spawn(lost.discard(), "rtagents-discard")
        self._lifecycle.fire(Trigger.CONNECTION_LOST, cause=cause)
        assert self.reconnect_policy is not None
        runner = Reconnector(self, self.reconnect_policy, lost=lost)
        self._reconnector = self._tasks.spawn(
            runner.run(cause, rebuild=rebuild), "rtagents-reconnect"
        )

    def drop_stalled(self, why: str) -> None:
        """The server went silent mid-response: treat the connection as lost."""
        from .events import STALLED, StalledEvent

        error = ConnectionFailure(why, origin=Origin.REMOTE, code="response_stalled")
        self._inbound.errors.append(error)
        self._inbound.emit(STALLED, StalledEvent(error=error))
        self._inbound.report(error)
        if self.reconnect_policy is not None and self.state is State.ACTIVE:
            self.connection_lost(why)

    def fail(self, error: RealtimeError, attempts: int) -> None:
        """Reconnecting gave up: end the session in FAILED with ``error`` for everyone."""
        if self._finished.is_set():
            return
        self.failure = error
        unsent = len(self._outbound.queue.drain()) + len(self._gate.drop_queue())
        if unsent:
            log.error("%d queued events were never sent: %s", unsent, error)
        if self._lifecycle.can(Trigger.FATAL):
            self._lifecycle.fire(Trigger.FATAL, cause=error.message)
        self._inbound.emit(FAILED, FailedEvent(error=error, attempts=attempts))
        self._finish_with(error)
        self._closing = True
        self._tasks.spawn(self._stop_tasks(), "rtagents-stop")

    # -- closing -----------------------------------------------------------------------

    def _refusing(self) -> bool:
        """Sends are refused: not opened yet, closing, or over."""
        return self._closing or self._finished.is_set() or self.state is State.IDLE

    def _closed_error(self, event_type: str, event_id: str) -> ConnectionFailure:
        if self.failure is not None and isinstance(self.failure, ConnectionFailure):
            return self.failure
        return ConnectionFailure(
            f"cannot send {event_type!r}: the session is {self.state}"
            + describe_close(self.close_code, self.close_reason),
            origin=Origin.LOCAL,
            code="session_closed",
            event_id=event_id,
        )

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
            await self._close_connection(code, reason)
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
        await self._close_connection(NORMAL_CLOSURE, "")
        self._finish(f"opening the session failed: {exc}")
        await self._stop_tasks()

    async def _close_connection(self, code: int, reason: str) -> None:
        connection = self._outbound.connection
        if connection is not None:
            await connection.close(code, reason)

    def _record_close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    def _finish(self, why: str) -> None:
        """The session is over: wake everyone who waits on it, exactly once."""
        self._finish_with(
            ConnectionFailure(
                why + describe_close(self.close_code, self.close_reason),
                origin=Origin.LOCAL,
                code="session_closed",
            )
        )

    def _finish_with(self, error: RealtimeError) -> None:
        if self._finished.is_set():
            return
        self.tools.cancel_all("the session closed")
        self._inbound.finish(error)
        self._finished.set()

    async def _stop_tasks(self) -> None:
        await self._tasks.stop()
        dispatcher, current = self._dispatcher, asyncio.current_task()
        if dispatcher is not None and dispatcher is not current and not dispatcher.done():
            # Handlers first see the final events (the last lifecycle change).
            await asyncio.wait({dispatcher}, timeout=self._drain_timeout)
            if not dispatcher.done():
                dispatcher.cancel()
                await asyncio.wait({dispatcher})

    def _on_transition(self, transition: Transition) -> None:
        t = transition
        self._log.lifecycle(str(t.source), str(t.target), str(t.trigger), t.cause)
        event = LifecycleEvent(source=t.source, target=t.target, trigger=t.trigger, cause=t.cause)
        self._inbound.emit(LIFECYCLE, event)
