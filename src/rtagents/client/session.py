"""A client session: lifecycle, the reader task, closing, and sending.

One reader task owns the current transport's receive side and hands every
message to :class:`~.inbound.Inbound`; nothing a peer sends can stop that loop,
only the transport closing does. Then either the session ends (and every
consumer is woken) or, with a :class:`~.policy.ReconnectPolicy`, the
:mod:`.reconnect` loop brings it back on a new transport while the app's sends
wait in a bounded queue. Every lifecycle transition is logged and delivered in
the event stream as a :class:`~.events.LifecycleEvent`, in order with the
server's events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, Unpack

from ..protocol.codec import decode_server_event
from ..protocol.errors import ConnectionFailure, Origin, RealtimeError
from ..protocol.lifecycle import State, Trigger
from ..transports.base import ABNORMAL_CLOSURE, GOING_AWAY, Transport, TransportClosed
from .asked import AskedConfig
from .base_session import SessionBase, SessionOptions
from .credentials import Credentials
from .gate import ResponseGate
from .inbound import describe_close
from .outbox import Outbox
from .playback import PlaybackTracker
from .policy import Decision, ReconnectPolicy, decide_close, decide_failure
from .resume_ticket import ResumeTicket, opt_in_headers, read_ticket, response_headers
from .tools import ToolRunner

log = logging.getLogger("rtagents.client.session")


class Session(SessionBase):
    """One Realtime session; create it with :func:`rtagents.connect`."""

    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials,
        reconnect: ReconnectPolicy | None = None,
        stall_timeout: float | None = 30.0,
        tool_timeout: float = 30.0,
        **options: Unpack[SessionOptions],
    ) -> None:
        super().__init__(url, credentials=credentials, **options)
        self.reconnect_policy = reconnect
        self.stall_timeout = stall_timeout
        policy = reconnect or ReconnectPolicy()
        limits = (policy.send_queue_bytes, policy.resend_bytes) if reconnect else (0, 0)
        self._outbox = Outbox(queue_bytes=limits[0], ring_bytes=limits[1])
        self._received = 0  # server frames fully received on this server session
        self._ticket: ResumeTicket | None = None
        self._live = False  # the transport takes sends now (else they queue)
        self._send_lock = asyncio.Lock()
        self._last_event = time.monotonic()
        self._reconnector: asyncio.Task[None] | None = None
        self._lost_early: str | None = None  # set while an attempt's connection died
        self._gate = ResponseGate(claim_timeout=self.ack_timeout)
        self.failure: RealtimeError | None = None
        """Why the session failed (the reconnect report), once it has."""
        self.tools = ToolRunner(self, default_timeout=tool_timeout)
        """Register functions the model may call; they run here, once per call."""
        self.playback = PlaybackTracker(self)
        """Feed it what the user heard; it truncates at the right place on barge-in."""
        self._inbound.observers.append(self._observe)
        if self._initial_config is not None:
            self._inbound.asked = AskedConfig(self._initial_config)
        if reconnect is not None and isinstance(credentials, str) and credentials.startswith("ek_"):
            log.warning(
                "reconnect is on but credentials is a fixed ek_ secret: reconnects after it "
                "expires will be refused (401); pass a callable that mints a fresh one"
            )

    # -- hooks of SessionBase --------------------------------------------------------

    def _open_headers(self) -> dict[str, str]:
        if self.reconnect_policy is not None and self.reconnect_policy.resume:
            return opt_in_headers()
        return {}

    def _on_transport_opened(self, transport: Transport) -> None:
        self._ticket = read_ticket(response_headers(transport))
        self._received = 0  # a fresh server session on every try at opening
        self._outbox.restart()
        self._live = True

    def _on_opened(self, transport: Transport) -> None:
        self._spawn(self._gate.pump(self._send_gated), "rtagents-response-gate")
        from .upkeep import upkeep

        self._spawn(upkeep(self), "rtagents-upkeep")

    def _open_retry_delay(self, error: BaseException, attempt: int) -> float | None:
        policy = self.reconnect_policy
        if policy is None or attempt >= policy.max_attempts or self._closing:
            return None
        if not self._lifecycle.can(Trigger.CONNECTION_LOST):
            return None
        decision, _ = decide_failure(error)
        return None if decision is Decision.NEVER else policy.delay(attempt + 1)

    async def _before_open_retry(self, error: BaseException, attempt: int, delay: float) -> None:
        from .events import RECONNECTING, ReconnectingEvent

        old, self._transport, self._live = self._transport, None, False
        if old is not None:
            await discard(old)
        self._lifecycle.fire(Trigger.CONNECTION_LOST, cause=str(error))
        event = ReconnectingEvent(attempt=attempt, delay=delay, cause=f"opening failed: {error}")
        self._inbound.emit(RECONNECTING, event)
        await asyncio.sleep(delay)
        self._advance(Trigger.RETRY)

    def _observe(self, event: object) -> None:
        self._last_event = time.monotonic()
        self._gate.observe(event, self._inbound.conversation)
        self.tools.observe(event)
        self.playback.observe(event)

    def _intercept(self, data: dict[str, Any]) -> bool:
        etype = data.get("type")
        if etype == "session.update" and isinstance(data.get("session"), Mapping):
            self._inbound.asked.sent(str(data["event_id"]), data["session"])
        elif etype == "response.create":
            if self._closing or self._finished.is_set():
                return False  # refused by _send_encoded with the reason, never queued
            return not self._gate.try_claim(data)
        return False

    async def _send_gated(self, event: dict[str, Any]) -> None:
        from ..protocol.codec import encode_event

        await self._send_encoded(event["type"], event["event_id"], encode_event(event))

    # -- reading ---------------------------------------------------------------------

    async def _read_loop(self, transport: Transport) -> None:
        while True:
            try:
                raw = await transport.recv()
            except TransportClosed as exc:
                self._on_transport_closed(transport, exc.close_code, exc.reason)
                return
            except ConnectionFailure as exc:
                self._on_transport_closed(transport, ABNORMAL_CLOSURE, exc.message)
                return
            if transport is not self._transport:
                return  # a connection we moved away from (stall, rollover)
            if isinstance(raw, str):
                self._received += 1
            try:
                self._inbound.ingest(decode_server_event(raw), raw)
            except Exception:  # a bug in our bookkeeping must not end the session
                log.exception("the client failed to process an event; the session goes on")

    def _on_transport_closed(self, transport: Transport, code: int, reason: str) -> None:
        """The peer closed, or the connection dropped, while we were not closing."""
        if transport is not self._transport or self._closing or self._finished.is_set():
            return
        lost = self._opening_lost
        if self.reconnect_policy is not None and lost is not None and not lost.done():
            lost.set_result(TransportClosed(code, reason))  # opening tries again
            return
        decision, why = decide_close(code)
        cause = "the server closed the connection" + describe_close(code, reason)
        if self._reconnecting() and decision is not Decision.NEVER:
            # The attempt's new connection died before it was declared back: the
            # reconnector finishes that attempt, then starts over (see run()).
            self._lost_early, self._live = f"{cause}: {why}", False
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

    def _reconnecting(self) -> bool:
        running = self._reconnector is not None and not self._reconnector.done()
        return running and self.state in (State.RECONNECTING, State.CONNECTING, State.CONFIGURING)

    def connection_lost(self, cause: str, *, rebuild: bool = False) -> None:
        """Stop using the current transport and start reconnecting (reconnect sessions)."""
        from .reconnect import Reconnector

        old, self._transport, self._live = self._transport, None, False
        self._lost_early = None
        if old is not None:
            self._spawn(discard(old), "rtagents-discard")
        self._lifecycle.fire(Trigger.CONNECTION_LOST, cause=cause)
        assert self.reconnect_policy is not None
        runner = Reconnector(self, self.reconnect_policy)
        self._reconnector = self._spawn(runner.run(cause, rebuild=rebuild), "rtagents-reconnect")

    def drop_stalled(self, why: str) -> None:
        """The server went silent mid-response: treat the connection as lost."""
        from .events import STALLED, StalledEvent

        error = ConnectionFailure(why, origin=Origin.REMOTE, code="response_stalled")
        self._inbound.errors.append(error)
        self._inbound.emit(STALLED, StalledEvent(error=error))
        self._inbound.report(error)
        if self.reconnect_policy is not None and self.state is State.ACTIVE:
            self.connection_lost(why)

    # -- sending ---------------------------------------------------------------------

    async def _send_encoded(self, event_type: str, event_id: str, text: str) -> None:
        try:
            await self._send_now(event_type, event_id, text)
        except ConnectionFailure:
            if event_type == "response.create":
                self._gate.release(event_id)  # else the gate waits claim_timeout for it
            raise

    async def _send_now(self, event_type: str, event_id: str, text: str) -> None:
        if self._closing or self._finished.is_set() or self.state is State.IDLE:
            raise self._closed_error(event_type, event_id)
        if self.reconnect_policy is None:
            if self._transport is None:
                raise self._closed_error(event_type, event_id)
            await self._transport.send(text)
            self._log.outbound(event_type, event_id)
            return
        if not self._live:
            self._outbox.enqueue(event_type, event_id, text)
            self._log.outbound(event_type, event_id, outcome="queued")
            return
        async with self._send_lock:
            await self._put(event_type, event_id, text)

    async def _put(self, event_type: str, event_id: str, text: str) -> None:
        """Number ``text`` and send it on the live transport (the send lock is held)."""
        transport = self._transport
        if not self._live or transport is None:
            self._outbox.enqueue(event_type, event_id, text)
            return
        self._outbox.number(text)
        try:
            await transport.send(text)
        except ConnectionFailure:
            # Kept in the resend ring: a resume re-sends it if the server missed it.
            self._log.outbound(event_type, event_id, outcome="pending_resend")
            return
        self._log.outbound(event_type, event_id)

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

    # -- switching transports (used by reconnect and rollover) -------------------------

    async def install(self, transport: Transport, ticket: ResumeTicket | None) -> None:
        """Make ``transport`` current: start reading it, send what queued, go live."""
        self._transport, self._ticket = transport, ticket
        self._last_event = time.monotonic()
        self._reader = self._spawn(self._read_loop(transport), "rtagents-reader")
        async with self._send_lock:
            while (entry := self._outbox.pop_queued()) is not None:
                self._outbox.number(entry[2])
                await transport.send(entry[2])
                self._log.outbound(entry[0], entry[1], outcome="flushed")
            self._live = True

    def fail(self, error: RealtimeError, attempts: int) -> None:
        """Reconnecting gave up: end the session in FAILED with ``error`` for everyone."""
        from .events import FAILED, FailedEvent

        if self._finished.is_set():
            return
        self.failure = error
        unsent = len(self._outbox.drain_queue()) + len(self._gate.drop_queue())
        if unsent:
            log.error("%d queued events were never sent: %s", unsent, error)
        if self._lifecycle.can(Trigger.FATAL):
            self._lifecycle.fire(Trigger.FATAL, cause=error.message)
        self._inbound.emit(FAILED, FailedEvent(error=error, attempts=attempts))
        self._finish_with(error)
        self._closing = True
        self._spawn(self._stop_tasks(), "rtagents-stop")

    def _extra_stop(self) -> None:
        self.tools.cancel_all("the session closed")


async def discard(transport: Transport) -> None:
    """Let go of a transport we no longer use, without waiting on a silent peer."""
    abort = getattr(transport, "abort", None)
    try:
        if callable(abort):
            abort()
        else:
            await asyncio.wait_for(transport.close(GOING_AWAY, "abandoned"), 1.0)
    except Exception:  # best effort: it is dead to us either way
        log.debug("discarding a transport failed", exc_info=True)
