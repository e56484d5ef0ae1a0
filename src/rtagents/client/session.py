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
import time
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel

from ..observability.event_log import EventLog
from ..protocol.conversation import Conversation
from ..protocol.errors import LocalProtocolError, RealtimeError
from ..protocol.lifecycle import Lifecycle, State, Transition, Trigger
from ..transports.base import ABNORMAL_CLOSURE, NORMAL_CLOSURE, TransportClosed
from .asked import AskedConfig
from .commands import SessionCommands
from .connection import Connection
from .consuming import Consuming
from .credentials import Credentials
from .ending import Ending
from .events import LIFECYCLE, LifecycleEvent, new_event_id
from .gate import ResponseGate
from .inbound import Inbound, describe_close
from .opening import Dialer, TransportOpener, open_transport
from .outbound import Outbound
from .outbox import SendQueue
from .outgoing import as_plain
from .playback import PlaybackTracker
from .policy import Decision, ReconnectPolicy, decide_close
from .reader import read_connection
from .reconnect import Reconnector
from .session_opening import open_session
from .session_parts import Clock, SessionParts
from .tasks import SessionTasks
from .tools import ToolRunner
from .turn_metrics import TurnMetrics
from .upkeep import upkeep

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
        clock: Clock | None = None,
    ) -> None:
        self.ack_timeout = ack_timeout
        self.reconnect_policy = reconnect
        self.stall_timeout = stall_timeout
        initial_config = as_plain(config) if config is not None else None
        self._drain_timeout = drain_timeout
        self._log = EventLog(new_event_id().replace("evt_", "cs_", 1), side="client")
        self._inbound = Inbound(self._log, stream_capacity=stream_capacity)
        if initial_config is not None:
            self._inbound.asked = AskedConfig(initial_config)
        self._lifecycle = Lifecycle()
        self._lifecycle.subscribe(self._on_transition)
        self._ending = Ending(self._inbound, on_end=self._on_end)
        self._gate = ResponseGate(claim_timeout=ack_timeout)
        policy = reconnect or ReconnectPolicy()
        self._outbound = Outbound(
            self._log,
            asked=self._inbound.asked,
            gate=self._gate,
            queue=SendQueue(policy.send_queue_bytes if reconnect else 0),
            resilient=reconnect is not None,
            is_closed=self._refusing,
            closed_error=lambda etype, eid: self._ending.refusal(etype, eid, self.state),
        )
        self._tasks = SessionTasks()
        self._parts = SessionParts(
            initial_config=initial_config,
            inbound=self._inbound,
            outbound=self._outbound,
            gate=self._gate,
            dialer=Dialer(
                url, credentials=credentials, headers=headers, opener=opener,
                open_timeout=open_timeout,
            ),
            tasks=self._tasks,
            ending=self._ending,
            ring_bytes=policy.resend_bytes if reconnect else 0,
            clock=clock or time.monotonic,  # one clock, when given, is both (a test's FakeClock)
            wall_clock=clock or time.time,
            sleep=asyncio.sleep if clock is None else clock.sleep,
        )  # fmt: skip
        self._reconnector: asyncio.Task[None] | None = None
        self.tools = ToolRunner(self, spawn=self._tasks.spawn, default_timeout=tool_timeout)
        """Register functions the model may call; they run here, once per call."""
        self.playback = PlaybackTracker(self)
        """Feed it what the user heard; it truncates at the right place on barge-in."""
        self.metrics = TurnMetrics(clock or time.monotonic)
        """Per-turn latencies as this client saw them (docs/debugging.md)."""
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
        return self._parts.dialer.url

    @property
    def open_timeout(self) -> float:
        return self._parts.dialer.open_timeout

    @property
    def close_code(self) -> int | None:
        """The close code the session ended with (the first one seen), once it has."""
        return self._ending.close_code

    @property
    def close_reason(self) -> str | None:
        return self._ending.close_reason

    @property
    def failure(self) -> RealtimeError | None:
        """Why the session failed (the reconnect report), once it has."""
        return self._ending.failure

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

    def waits_for_connection(self, event_id: str) -> bool:
        """The event was queued while no connection was current; it goes out on the next."""
        return event_id in self._outbound.queue.queued_ids

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
        return self._ending.finished

    # -- opening -----------------------------------------------------------------------

    async def open(self) -> Self:
        """Authenticate, open the transport, and wait until the session is configured."""
        if self._lifecycle.state is not State.IDLE:
            raise LocalProtocolError(
                f"open() was already called (the session is {self.state})", code="invalid_state"
            )
        try:
            await open_session(self, self._parts)
            self._tasks.spawn(self._gate.pump(self._outbound.send_gated), "rtagents-response-gate")
            self._tasks.spawn(upkeep(self, self._parts), "rtagents-upkeep")
        except BaseException as exc:
            await self._abort(exc)
            raise
        return self

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
        self._start_reader(connection)
        await self._outbound.install(connection)

    def _start_reader(self, connection: Connection) -> None:
        """Read ``connection`` until it closes (the first one also starts the handlers)."""
        reader = read_connection(
            connection,
            inbound=self._inbound,
            current=lambda: self._outbound.connection,
            closed=self._on_transport_closed,
        )
        self._tasks.spawn(reader, "rtagents-reader")
        self._tasks.start_handlers(self._inbound.dispatch_loop)

    def _observe(self, event: object) -> None:
        self._gate.observe(event, self._inbound.conversation)
        self.tools.observe(event)
        self.playback.observe(event)
        self.metrics.observe(event)

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
        self._ending.record_close(code, reason)
        # Without reconnect a drop (1006) fails the session; a clean close ends it.
        clean = code != ABNORMAL_CLOSURE and self._lifecycle.can(Trigger.TRANSPORT_CLOSED)
        self._lifecycle.fire(Trigger.TRANSPORT_CLOSED if clean else Trigger.FATAL, cause=cause)
        self._ending.finish("the session closed")

    # -- losing the connection (reconnect sessions) ------------------------------------

    def _reconnecting(self) -> bool:
        running = self._reconnector is not None and not self._reconnector.done()
        return running and self.state in (State.RECONNECTING, State.CONNECTING, State.CONFIGURING)

    def connection_lost(self, cause: str, *, rebuild: bool = False) -> None:
        """Stop using the current connection and start reconnecting (reconnect sessions)."""
        lost = self._outbound.detach()
        if lost is not None:
            self._tasks.spawn(lost.discard(), "rtagents-discard")
        self._lifecycle.fire(Trigger.CONNECTION_LOST, cause=cause)
        assert self.reconnect_policy is not None
        runner = Reconnector(self, self._parts, self.reconnect_policy, lost=lost)
        self._reconnector = self._tasks.spawn(
            runner.run(cause, rebuild=rebuild), "rtagents-reconnect"
        )

    # -- closing -----------------------------------------------------------------------

    def _refusing(self) -> bool:
        """Sends are refused: not opened yet, closing, or over."""
        return self._ending.closing or self._ending.finished or self.state is State.IDLE

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the session; idempotent. Wakes every waiter and ends ``async for``."""
        if self._ending.closing or self._ending.finished:
            await self._ending.wait()
        else:
            self._ending.closing = True
            if self._lifecycle.can(Trigger.CLOSE_REQUESTED):
                self._lifecycle.fire(
                    Trigger.CLOSE_REQUESTED, cause=f"close({code}) called by the client"
                )
            await self._close_connection(code, reason)
            self._ending.record_close(code, reason)
            if self._lifecycle.can(Trigger.TRANSPORT_CLOSED):
                self._lifecycle.fire(Trigger.TRANSPORT_CLOSED, cause="closed by the client")
            self._ending.finish("the session was closed by the client")
        await self._tasks.stop(drain_timeout=self._drain_timeout)

    async def _abort(self, exc: BaseException) -> None:
        """Opening failed: record why, release everything, end in FAILED."""
        if not self._ending.closing and self._lifecycle.can(Trigger.FATAL):
            self._lifecycle.fire(Trigger.FATAL, cause=f"{type(exc).__name__}: {exc}")
        self._ending.closing = True
        await self._close_connection(NORMAL_CLOSURE, "")
        self._ending.finish(f"opening the session failed: {exc}")
        await self._tasks.stop(drain_timeout=self._drain_timeout)

    async def _close_connection(self, code: int, reason: str) -> None:
        connection = self._outbound.connection
        if connection is not None:
            await connection.close(code, reason)

    def _on_end(self) -> None:
        self.tools.cancel_all("the session closed")

    def _on_transition(self, transition: Transition) -> None:
        t = transition
        self._log.lifecycle(str(t.source), str(t.target), str(t.trigger), t.cause)
        event = LifecycleEvent(source=t.source, target=t.target, trigger=t.trigger, cause=t.cause)
        self._inbound.emit(LIFECYCLE, event)
