"""Drain: a node that is going away hands its sessions to other nodes, then stops.

On SIGTERM (a redeploy, a scale-in) ``rtagents serve`` drains instead of
dropping everything: the node refuses whatever would start something new here
(WebSocket upgrades, sidebands, WebRTC calls, client secrets: 503
``server_draining`` with ``Retry-After``), ``/healthz`` answers 503
``draining`` so the load balancer stops routing here, and each live session is
closed with 1012 ("service restart"), the close code the client's
:class:`rtagents.client.ReconnectPolicy` treats as *resume*: the client
reconnects through the load balancer, lands on another node and resumes there
(shared Redis resume logs) or rebuilds its session. A session is closed at a
quiet moment (no response running) when one comes within half the grace, so
its last answer is not cut; past that it is closed anyway. The node exits once
every session has gone or the grace has run out.

Chat completions are not refused: each is one short request with nothing to
move, and the node still answers them until it exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from .auth import Refusal

if TYPE_CHECKING:
    from .host.session_host import SessionHost
    from .state import ServerState

log = logging.getLogger("rtagents.server.drain")

SERVICE_RESTART = 1012
"""The close code a draining node sends: ``decide_close(1012)`` is RESUME in the client."""
DRAIN_REASON = "server draining: reconnect to resume on another node"
# How often a session is checked for a quiet moment (no response running).
QUIET_POLL_S = 0.05
# What a refused client is asked to wait before it tries again (through the balancer).
RETRY_AFTER_S = 1


def draining_refusal() -> Refusal:
    """The answer to anything that would start something new on a draining node."""
    return Refusal(
        503,
        "server_draining",
        "This server node is draining (shutting down for a redeploy or scale-in) and takes "
        "no new sessions, calls or client secrets. Try again: the load balancer routes you "
        "to another node.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def refused_while_draining(endpoint: Endpoint) -> Endpoint:
    """``endpoint``, answering 503 ``server_draining`` once its server drains."""

    async def guarded(request: Request) -> Response:
        state: ServerState = request.app.state.rtagents
        if state.draining:
            return draining_refusal().response()
        return await endpoint(request)

    guarded.__doc__ = endpoint.__doc__
    return guarded


@dataclass(frozen=True, slots=True)
class DrainOutcome:
    """How a drain went: sessions told to move, and those still open when the grace ran out."""

    told: int
    left_open: int

    @property
    def complete(self) -> bool:
        return self.left_open == 0


async def drain(state: ServerState, grace_s: float) -> DrainOutcome:
    """Stop taking new work, move every session off this node, wait for them (``grace_s``).

    Sessions are told in rounds: one admitted while the refusal was being
    switched on (its handshake already past the check) is found in the next.
    """
    state.draining = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    quiet_by = loop.time() + grace_s / 2
    seen: set[object] = set()  # the objects, not id()s: an id can be reused
    told = 0
    while loop.time() < deadline:
        moves = _untold_moves(state, seen, quiet_by, first=not told)
        if not moves:
            break
        told += len(moves)
        moving = asyncio.gather(*moves, return_exceptions=True)
        try:
            await asyncio.wait_for(asyncio.shield(moving), max(deadline - loop.time(), 0))
        except TimeoutError:
            moving.cancel()  # the caller's shutdown closes what is left (1001)
            await asyncio.gather(moving, return_exceptions=True)
    left = len(state.sessions) + len(state.calls)
    if left:
        log.warning("drain grace over with %d sessions still open; closing them", left)
    else:
        log.info("drained: every session has left this node")
    return DrainOutcome(told=told, left_open=left)


def _untold_moves(
    state: ServerState, seen: set[object], quiet_by: float, *, first: bool
) -> list[Coroutine[Any, Any, None]]:
    """Moves for the sessions and calls not told yet (``seen`` holds those told)."""
    calls = [call for call in state.calls.values() if call not in seen]
    call_hosts = {call.host for call in state.calls.values() if call.host is not None}
    hosts = [h for h in state.sessions if h not in seen and h not in call_hosts]
    seen.update([*calls, *hosts])
    if first or hosts or calls:
        log.info(
            "draining: %d sessions and %d calls told to resume elsewhere",
            len(hosts),
            len(calls),
            extra={"sessions": len(hosts), "calls": len(calls)},
        )
    # --redis: the registry can hand a session to whichever node the client reaches next.
    hand_off = getattr(state.resumes, "hand_off", None)
    moves = [_move_session(host, quiet_by, hand_off) for host in hosts]
    return moves + [_end_call(call, quiet_by) for call in calls]


async def _move_session(
    host: SessionHost, quiet_by: float, hand_off: Callable[[Any], Awaitable[bool]] | None
) -> None:
    """Close ``host``'s session with 1012 at its next quiet moment (or at ``quiet_by``).

    With shared resume logs the session is handed off first (its log made
    durable, its owner cleared), so another node resumes it at once with
    nothing lost; without, the client's resume is refused there and it rebuilds.
    """
    await _until_quiet(lambda: host.backend.facts().responses, quiet_by)
    if hand_off is not None and host.resume is not None:
        try:
            await hand_off(host.resume)
        except Exception:  # a failed hand-off costs a resume, not the drain
            log.exception("handing session %s off failed; its client rebuilds", host.id)
    await host.shutdown(SERVICE_RESTART, DRAIN_REASON)
    await host.wait_closed()


async def _end_call(call: Any, quiet_by: float) -> None:
    """Hang up a WebRTC call with 1012 at its next quiet moment; its caller calls again."""
    host = getattr(call, "host", None)
    if host is not None:
        await _until_quiet(lambda: host.backend.facts().responses, quiet_by)
    await call.end(SERVICE_RESTART, DRAIN_REASON)


async def _until_quiet(running: Callable[[], Any], quiet_by: float) -> None:
    """Wait until nothing is ``running`` (a response), or until ``quiet_by``.

    The backend announces no "response finished" to the host, so this looks
    every 50 ms: a drain happens once per process, and the wait is bounded.
    """
    loop = asyncio.get_running_loop()
    while running() and loop.time() < quiet_by:  # noqa: ASYNC110
        await asyncio.sleep(QUIET_POLL_S)


class StopSignals:
    """What ``serve`` was asked: drain (first SIGTERM) or stop now (SIGINT, a second SIGTERM).

    With no drain grace, SIGTERM stops at once as SIGINT does (sessions closed 1001).
    """

    def __init__(self, drain_grace_s: float) -> None:
        self.drain_grace_s = drain_grace_s
        self.requested = asyncio.Event()  # any stop at all
        self.immediate = asyncio.Event()  # no (more) draining
        self.draining = False

    def install(self, loop: asyncio.AbstractEventLoop) -> StopSignals:
        loop.add_signal_handler(signal.SIGTERM, self.on_term)
        loop.add_signal_handler(signal.SIGINT, self.on_interrupt)
        return self

    def on_term(self) -> None:
        if self.requested.is_set() or self.drain_grace_s <= 0:
            self.on_interrupt()
            return
        self.draining = True
        self.requested.set()

    def on_interrupt(self) -> None:
        self.immediate.set()
        self.requested.set()


async def drain_unless_stopped(state: ServerState, signals: StopSignals) -> DrainOutcome | None:
    """Drain when SIGTERM asked for it; a later SIGINT/SIGTERM cuts the drain short."""
    if not signals.draining or signals.immediate.is_set():
        return None
    draining = asyncio.create_task(drain(state, signals.drain_grace_s), name="rtagents-drain")
    interrupted = asyncio.create_task(signals.immediate.wait(), name="rtagents-drain-interrupt")
    await asyncio.wait({draining, interrupted}, return_when=asyncio.FIRST_COMPLETED)
    interrupted.cancel()
    if not draining.done():
        log.warning("drain interrupted by a second signal; closing every session now")
        draining.cancel()
    results = await asyncio.gather(draining, interrupted, return_exceptions=True)
    outcome = results[0]
    return outcome if isinstance(outcome, DrainOutcome) else None
