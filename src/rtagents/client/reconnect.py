"""Bringing a session back after its connection was lost: attempts, resume, rebuild.

One outage is one :meth:`Reconnector.run`: up to ``max_attempts`` attempts, each
after a full-jitter delay, each with fresh credentials (the credentials
callable is called again, so an ``ek_`` secret is never reused past its life).
An attempt first asks an rtagents server to *resume* (the server replays what
we missed, we re-send what it missed: nothing lost, nothing twice); a server
that cannot (no resume headers, 404/409) gets a *rebuild* (:mod:`.rebuild`).
Giving up fails the session with one ``connection`` error listing every
attempt and why it failed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..protocol.errors import ConnectionFailure, Origin, RealtimeError
from ..protocol.lifecycle import Trigger
from ..transports.base import NORMAL_CLOSURE, Transport
from .connection import Connection, discard
from .events import FAILED, RECONNECTING, RESUMED, FailedEvent, ReconnectingEvent, ResumedEvent
from .policy import Decision, ReconnectPolicy, decide_failure
from .rebuild_run import rebuild_on
from .resume_ticket import opt_in_headers, read_received, response_headers

if TYPE_CHECKING:
    from .session_parts import SessionControl, SessionParts

log = logging.getLogger("rtagents.client.reconnect")


class ResumeRefused(ConnectionFailure):
    """The server took the resume but we cannot fill the gap it reports: rebuild."""

    status = 409


class Reconnector:
    """One outage of one session: ``lost`` is the connection it lost (None: none to resume)."""

    def __init__(
        self,
        session: SessionControl,
        parts: SessionParts,
        policy: ReconnectPolicy,
        *,
        lost: Connection | None,
    ) -> None:
        self.session = session
        self.parts = parts
        self.policy = policy
        self.lost = lost

    async def run(self, cause: str, *, rebuild: bool = False) -> None:
        try:
            await self._attempts(cause, rebuild=rebuild)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug (or a raising jitter source) must not leave
            # the session RECONNECTING forever with every waiter still asleep
            log.exception("reconnecting failed unexpectedly")
            error = ConnectionFailure(
                f"reconnecting failed unexpectedly: {type(exc).__name__}: {exc}",
                origin=Origin.LOCAL,
                code="reconnect_failed",
            )
            give_up(self.session, self.parts, error, 0)

    async def _attempts(self, cause: str, *, rebuild: bool) -> None:
        failures: list[str] = []
        decision = Decision.REBUILD if rebuild or not self.policy.resume else Decision.RESUME
        for attempt in range(1, self.policy.max_attempts + 1):
            delay = self.policy.delay(attempt)
            event = ReconnectingEvent(attempt=attempt, delay=delay, cause=cause)
            self.parts.inbound.emit(RECONNECTING, event)
            log.warning("reconnecting (attempt %d in %.2f s): %s", attempt, delay, cause)
            await asyncio.sleep(delay)
            self.session.lifecycle.fire(Trigger.RETRY, cause=f"attempt {attempt}")
            try:
                rebuilt = await self.attempt(decision)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                verdict, why = decide_failure(exc)
                failures.append(f"attempt {attempt}: {exc} [{why}]")
                cause = str(exc)
                if self.session.lifecycle.can(Trigger.CONNECTION_LOST):
                    self.session.lifecycle.fire(Trigger.CONNECTION_LOST, cause=cause)
                if verdict is Decision.NEVER:
                    break
                if verdict is Decision.REBUILD:
                    decision = Decision.REBUILD
                continue
            self.session.lifecycle.fire(Trigger.RESUMED, cause="rebuilt" if rebuilt else "resumed")
            sid = self.session.session_id
            done = ResumedEvent(rebuilt=rebuilt, attempts=attempt, session_id=sid)
            self.parts.inbound.emit(RESUMED, done)
            current = self.session.connection
            if current is not None and current.lost is not None:
                self.session.connection_lost(current.lost)  # it already died: a new outage
            return
        give_up(self.session, self.parts, self._gave_up(failures), len(failures))

    def _gave_up(self, failures: list[str]) -> ConnectionFailure:
        report = "; ".join(failures) or "no attempt was made"
        return ConnectionFailure(
            f"the connection was lost and reconnecting gave up after {len(failures)} "
            f"attempt(s): {report}",
            origin=Origin.REMOTE,
            code="reconnect_failed",
        )

    async def attempt(self, decision: Decision) -> bool:
        """One attempt: True if the session was rebuilt, False if it was resumed."""
        session, lost = self.session, self.lost
        resuming = decision is Decision.RESUME and lost is not None and lost.ticket is not None
        transport = await self._open(lost if resuming else None)
        try:
            session.lifecycle.fire(Trigger.TRANSPORT_OPENED)
            received = read_received(response_headers(transport)) if resuming else None
            if received is None or lost is None:  # a fresh session: none asked or offered
                await rebuild_on(session, self.parts, transport)
                return True
            connection = lost.resumed_on(transport)
            frames = connection.ring.unacknowledged(received)
            if frames is None:
                await transport.close(NORMAL_CLOSURE, "cannot resume: frames were dropped")
                raise ResumeRefused(
                    f"the server received {received} of our frames but we kept only the "
                    f"last ones up to {connection.sent}; rebuilding the session",
                    origin=Origin.LOCAL,
                    code="resume_gap",
                )
            await connection.resend(frames)
            await session.install(connection)
            return False
        except BaseException:
            current = session.connection
            if current is not None and current.transport is transport:
                self.parts.outbound.detach()  # install() failed while flushing
            await discard(transport)
            raise

    async def _open(self, resume: Connection | None) -> Transport:
        """A new transport; asking to resume ``resume``'s server session if given."""
        extra = opt_in_headers() if self.policy.resume else {}
        if resume is not None:
            extra = resume.resume_headers() or extra
        return await self.parts.dialer.dial(extra)


def give_up(
    session: SessionControl, parts: SessionParts, error: RealtimeError, attempts: int
) -> None:
    """Reconnecting gave up: end the session in FAILED with ``error`` for everyone."""
    ending = parts.ending
    if ending.finished:
        return
    ending.failure = error
    unsent = len(parts.outbound.queue.drain()) + len(parts.gate.drop_queue())
    if unsent:
        log.error("%d queued events were never sent: %s", unsent, error)
    if session.lifecycle.can(Trigger.FATAL):
        session.lifecycle.fire(Trigger.FATAL, cause=error.message)
    parts.inbound.emit(FAILED, FailedEvent(error=error, attempts=attempts))
    ending.finish_with(error)
    ending.closing = True
    parts.tasks.spawn(session.close(), "rtagents-stop")  # ended: close() only stops the tasks
