"""Background care of a live session: the stall watchdog and the proactive rollover.

The watchdog catches the failure no close code reports: a connection that is
up but silent while a response should be streaming (a stalled proxy, a hung
server). It raises a classified ``connection`` error (``response_stalled``)
and, with reconnect on, drops the connection so the session resumes.

The rollover moves the session to a fresh server session before the server's
cap (``session.created``'s ``expires_at``) ends it: at a quiet moment (no
response in flight, no tool running) it rebuilds the conversation on a new
connection, switches to it, and closes the old one with 1000. The user hears
no gap because nothing was playing; the app sees ``rtagents.resumed`` with
``reason="rollover"``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..protocol.errors import ConnectionFailure, Origin
from ..protocol.lifecycle import State
from ..transports.base import NORMAL_CLOSURE
from .events import RESUMED, STALLED, ResumedEvent, StalledEvent
from .resume_ticket import opt_in_headers

if TYPE_CHECKING:
    from .session_parts import SessionControl, SessionParts

log = logging.getLogger("rtagents.client.upkeep")
ROLLOVER_CHECK_S = 5.0
QUIET_CHECK_S = 0.05


async def upkeep(session: SessionControl, parts: SessionParts) -> None:
    async with asyncio.TaskGroup() as group:
        group.create_task(watchdog(session, parts))
        group.create_task(rollover_loop(session, parts))


async def watchdog(session: SessionControl, parts: SessionParts) -> None:
    limit = session.stall_timeout
    if limit is None or limit <= 0:
        return
    gate = parts.gate
    while True:
        await parts.sleep(limit / 4)
        connection = session.connection
        if connection is None or not connection.live:
            continue
        silent = parts.clock() - connection.last_heard
        if gate.busy and silent > limit:
            connection.heard()  # one report per silence
            report_stall(
                session,
                parts,
                f"no server event for {silent:.1f} s while a response was active "
                f"(stall_timeout={limit:g} s)",
            )


def report_stall(session: SessionControl, parts: SessionParts, why: str) -> None:
    """The server went silent mid-response: say so, and treat the connection as lost."""
    error = ConnectionFailure(why, origin=Origin.REMOTE, code="response_stalled")
    inbound = parts.inbound
    inbound.errors.append(error)
    inbound.emit(STALLED, StalledEvent(error=error))
    inbound.report(error)
    if session.reconnect_policy is not None and session.state is State.ACTIVE:
        session.connection_lost(why)


def quiet(session: SessionControl, parts: SessionParts) -> bool:
    connection = session.connection
    return (
        session.state is State.ACTIVE
        and connection is not None
        and connection.live
        and not parts.gate.busy
        and session.tools.running == 0
    )


def rollover_due(session: SessionControl, now: float) -> float | None:
    """Seconds until the rollover is due (<= 0: now); None when there is no cap to beat."""
    policy = session.reconnect_policy
    if policy is None or policy.rollover_margin is None:
        return None
    expires_at = getattr(session.config, "expires_at", None)
    if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
        return None
    return float(expires_at) - policy.rollover_margin - now


async def rollover_loop(session: SessionControl, parts: SessionParts) -> None:
    while True:
        due = rollover_due(session, parts.wall_clock())
        if due is None or due > 0:
            await parts.sleep(ROLLOVER_CHECK_S if due is None else min(due, ROLLOVER_CHECK_S))
            continue
        if not quiet(session, parts):
            await parts.sleep(QUIET_CHECK_S)
            continue
        if not await rollover(session, parts):
            continue
        due = rollover_due(session, parts.wall_clock())
        if due is not None and due <= 0:
            # The fresh session is already due: the server's cap is shorter than the
            # margin, and rolling over again would churn sessions back to back.
            log.warning(
                "the server caps sessions at less than rollover_margin; no more rollovers "
                "for this session (it is rebuilt when the cap closes it)"
            )
            return


async def rollover(session: SessionControl, parts: SessionParts) -> bool:
    """Rebuild on a fresh connection, then let go of the old one; False if it failed."""
    from .rebuild_run import rebuild_on

    policy = session.reconnect_policy
    assert policy is not None
    expiring = session.session_id
    old = parts.outbound.detach()  # sends queue; the old reader stops
    try:
        transport = await parts.dialer.dial(opt_in_headers() if policy.resume else {})
        try:
            await rebuild_on(session, parts, transport)
        except BaseException:
            await transport.close(NORMAL_CLOSURE, "rollover abandoned")
            raise
    except asyncio.CancelledError:
        # close() ran while no connection was current: the old one is ours to drop.
        if old is not None:
            await old.discard()
        raise
    except Exception as exc:
        log.warning("rollover of %s failed (%s); reconnecting instead", expiring, exc)
        if old is not None:
            parts.tasks.spawn(old.discard(), "rtagents-discard")
        session.connection_lost(f"rollover failed: {exc}", rebuild=True)
        return False
    if old is not None:
        try:
            await asyncio.wait_for(old.close(NORMAL_CLOSURE, "rolled over"), 2.0)
        except asyncio.CancelledError:
            await old.discard()
            raise
        except TimeoutError:
            log.debug("closing the rolled-over connection timed out", exc_info=True)
    log.info("rolled session %s over to %s", expiring, session.session_id)
    event = ResumedEvent(rebuilt=True, attempts=1, reason="rollover", session_id=session.session_id)
    parts.inbound.emit(RESUMED, event)
    return True
