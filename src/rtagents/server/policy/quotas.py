"""Per-key quotas: sessions one principal may open per window, and hold open at once.

A principal is who opened the session as :class:`~rtagents.server.auth.Principal`
names it (``api_key``, or ``secret:<id>`` for one ``ek_`` secret). Each new
WebSocket session and WebRTC call takes a :class:`QuotaTicket` before it
starts; the ticket is given back when the session ends (a detached,
resumable session holds it until it ends), so the concurrent count is exact.
Starts are kept per principal for one window only, and principals with
nothing counted are dropped, so the book stays bounded by what is live.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable

from ..auth import Refusal
from ..held_place import HeldPlace
from .table import Policy


class QuotaBook:
    """How many sessions each principal opened lately and holds now."""

    def __init__(self, policy: Policy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self._clock = clock
        self._starts: dict[str, deque[float]] = {}
        self._open: dict[str, int] = {}
        self._watchers: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> bool:
        return bool(self.policy.sessions_per_window or self.policy.concurrent_sessions)

    def take(self, principal: str) -> QuotaTicket:
        """A ticket for one more session of ``principal``, or :class:`Refusal` 429 saying which."""
        ticket = QuotaTicket(self._watchers, self._give_back, principal)
        if not self.active:
            return ticket
        now = self._clock()
        starts = self._recent_starts(principal, now)
        self._check_concurrent(principal)
        self._check_window(principal, starts, now)
        if self.policy.sessions_per_window:
            starts.append(now)
            self._starts[principal] = starts
        self._open[principal] = self._open.get(principal, 0) + 1
        ticket.held = True
        return ticket

    def open_sessions(self, principal: str) -> int:
        return self._open.get(principal, 0)

    def tracked(self) -> int:
        """Principals the book remembers (bounded by what is live or recent)."""
        return len(self._starts.keys() | self._open.keys())

    def _recent_starts(self, principal: str, now: float) -> deque[float]:
        window = self.policy.quota_window_s
        if self.policy.sessions_per_window and len(self._starts) > 1024:
            self._forget_idle(now)
        starts = self._starts.get(principal) or deque()
        while starts and starts[0] <= now - window:
            starts.popleft()
        return starts

    def _forget_idle(self, now: float) -> None:
        cutoff = now - self.policy.quota_window_s
        for principal in [p for p, s in self._starts.items() if not s or s[-1] <= cutoff]:
            del self._starts[principal]

    def _check_concurrent(self, principal: str) -> None:
        limit, held = self.policy.concurrent_sessions, self._open.get(principal, 0)
        if limit and held >= limit:
            raise concurrent_refusal(principal, held, limit)

    def _check_window(self, principal: str, starts: deque[float], now: float) -> None:
        limit, window = self.policy.sessions_per_window, self.policy.quota_window_s
        if not limit or len(starts) < limit:
            return
        raise window_refusal(principal, len(starts), self.policy, starts[0] + window - now)

    def _give_back(self, principal: str) -> None:
        held = self._open.get(principal, 0) - 1
        if held > 0:
            self._open[principal] = held
        else:
            self._open.pop(principal, None)


class QuotaTicket(HeldPlace):
    """One session's place in its principal's quota; releasing twice gives back one place.

    ``give_back(principal)`` is its book's (this process's, or the one shared in Redis).
    """

    def __init__(
        self,
        watchers: set[asyncio.Task[None]],
        give_back: Callable[[str], None],
        principal: str,
    ) -> None:
        super().__init__(watchers)
        self._give_back = give_back
        self.principal = principal
        self.held = False

    @property
    def holding(self) -> bool:
        return self.held

    def release(self) -> None:
        if self.held:
            self.held = False
            self._give_back(self.principal)


def concurrent_refusal(principal: str, held: int, limit: int, *, shared: bool = False) -> Refusal:
    """429: ``principal`` holds ``held`` open sessions, ``limit`` or more."""
    where = _counted_where(shared)
    return Refusal(
        429,
        "concurrent_session_quota_exceeded",
        f"{_who(principal)} already holds {held} open session(s){where}, as many as this "
        f"gateway's policy allows at once (policy.concurrent_sessions = {limit}); end "
        "one of them (or wait for it to end), then try again.",
        headers={"Retry-After": "1"},
    )


def window_refusal(
    principal: str, count: int, policy: Policy, frees_in_s: float, *, shared: bool = False
) -> Refusal:
    """429: ``principal`` opened ``count`` sessions in the window (one leaves in ``frees_in_s``)."""
    limit, window = policy.sessions_per_window, policy.quota_window_s
    retry_s = max(1, math.ceil(frees_in_s))
    where = _counted_where(shared)
    return Refusal(
        429,
        "session_quota_exceeded",
        f"{_who(principal)} opened {count} sessions in the last {window:g} s{where}, as many "
        f"as this gateway's policy allows (policy.sessions_per_window = {limit} per "
        f"policy.quota_window_s = {window:g}); try again in {retry_s} s.",
        headers={"Retry-After": str(retry_s)},
    )


def _counted_where(shared: bool) -> str:
    return " (counted across every server sharing this Redis)" if shared else ""


def _who(principal: str) -> str:
    return "The API key" if principal == "api_key" else "This client secret"
