"""Opening a session: credentials, the first connection, ``session.created``, the config.

One try resolves the credentials, opens a transport, makes it the session's
:class:`~.connection.Connection`, and waits for ``session.created`` (then
sends the initial config and waits for its ``session.updated``). With a
reconnect policy a try that fails for a reason worth retrying is retried like
a reconnect (``rtagents.reconnecting`` events, the policy's delays); without
one the first failure is the caller's.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

from ..protocol.errors import ConnectionFailure, Origin
from ..protocol.lifecycle import Trigger
from .connection import Connection
from .events import RECONNECTING, ReconnectingEvent
from .inbound import classify
from .opening import sideband_call_id
from .policy import Decision, decide_failure
from .resume_ticket import opt_in_headers

if TYPE_CHECKING:
    from .session_parts import SessionControl, SessionParts


async def open_session(session: SessionControl, parts: SessionParts) -> None:
    """Open ``session`` (IDLE) until it is configured, or raise why it could not."""
    advance(session, parts, Trigger.START)
    attempt = 1
    while True:
        try:
            await _open_once(session, parts, first=attempt == 1)
            break
        except Exception as exc:
            delay = _retry_delay(session, exc, attempt)
            if delay is None:
                raise
            await _before_retry(session, parts, exc, attempt + 1, delay)
            attempt += 1
    advance(session, parts, Trigger.CONFIGURED)


def advance(session: SessionControl, parts: SessionParts, trigger: Trigger) -> None:
    """One step of opening, unless ``close()`` was called while we awaited."""
    if parts.ending.closing:
        raise ConnectionFailure(
            "the session was closed by the client while opening",
            origin=Origin.LOCAL,
            code="session_closed",
        )
    session.lifecycle.fire(trigger)


async def _open_once(session: SessionControl, parts: SessionParts, *, first: bool) -> None:
    """One try: credentials, transport, ``session.created`` (+ the initial config)."""
    policy = session.reconnect_policy
    extra = opt_in_headers() if policy is not None and policy.resume else {}
    authenticated = partial(advance, session, parts, Trigger.AUTHENTICATED) if first else None
    transport = await parts.dialer.dial(extra, authenticated=authenticated)
    connection = Connection.fresh(transport, ring_bytes=parts.ring_bytes, clock=parts.clock)
    await parts.outbound.install(connection)  # current at once: close() now closes it
    advance(session, parts, Trigger.TRANSPORT_OPENED)
    lost = connection.opening = asyncio.get_running_loop().create_future()
    # Created before the reader, so its waiter for session.created is in place
    # before the reader runs (the first frame may come with the handshake).
    sideband = sideband_call_id(parts.dialer.url) is not None
    configure = asyncio.ensure_future(_configure(session, parts.initial_config, sideband))
    await session.install(connection)  # starts its reader (already current and live)
    try:
        await asyncio.wait({configure, lost}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        connection.opening = None
        if not configure.done():
            configure.cancel()
            await asyncio.wait({configure})
    if configure.cancelled() and lost.done():
        raise lost.result()
    configure.result()


async def _configure(
    session: SessionControl, config: dict[str, Any] | None, sideband: bool = False
) -> None:
    """Wait for ``session.created``, then apply the initial ``config`` if one was given.

    A sideband joins a session that was created before it (the call got
    ``session.created``), so it asks: a ``session.update`` (the config, or only
    the session type, which changes nothing) answered by the full effective config.
    """
    if sideband:
        await session.update_session(config if config is not None else {"type": "realtime"})
        return
    first = await session.wait_for(("session.created", "error"), timeout=session.ack_timeout)
    error = classify(first)
    if error is not None:
        raise error
    if config is not None:
        await session.update_session(config)


def _retry_delay(session: SessionControl, error: BaseException, attempt: int) -> float | None:
    """Seconds before another try at opening after ``error``; None: give up."""
    policy = session.reconnect_policy
    if policy is None or attempt >= policy.max_attempts:
        return None
    if not session.lifecycle.can(Trigger.CONNECTION_LOST):
        return None  # closed meanwhile, or not that far yet
    decision, _ = decide_failure(error)
    return None if decision is Decision.NEVER else policy.delay(attempt + 1)


async def _before_retry(
    session: SessionControl, parts: SessionParts, error: BaseException, attempt: int, delay: float
) -> None:
    """Let go of the failed try, report the next one, and wait ``delay``."""
    old = parts.outbound.detach()
    if old is not None:
        await old.discard()
    session.lifecycle.fire(Trigger.CONNECTION_LOST, cause=str(error))
    event = ReconnectingEvent(attempt=attempt, delay=delay, cause=f"opening failed: {error}")
    parts.inbound.emit(RECONNECTING, event)
    await asyncio.sleep(delay)
    advance(session, parts, Trigger.RETRY)
