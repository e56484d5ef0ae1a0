"""Rolling an upstream session over before its cap, at a moment nothing is going on.

The hosted API ends a session after 60 minutes (``expires_at`` in its
``session.created``). ``rollover_margin_s`` before that, once no response is
in progress, the keeper builds the next upstream session exactly as after a
drop (config, then the mirror's items with the same ids) while the current
one stays connected; client events wait meanwhile. If the current session
says anything while the next is being built (the user started speaking, its
VAD committed a turn), the two no longer hold the same conversation: the new
one is closed, what was said is forwarded, and the rollover tries again at
the next quiet moment. Otherwise the new session takes over and the old one
is closed.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from .upstream_link import DIAL_FAILURES

if TYPE_CHECKING:
    from ..config import ServerConfig
    from ..host.backend import HostPort
    from .upstream_link import UpstreamLink
    from .upstream_rebuild import UpstreamSession
    from .upstream_settings import UpstreamSettings

log = logging.getLogger("rtagents.server.relay")
# The least time an upstream session serves before a rollover (guards against clock skew).
MIN_UPSTREAM_LIFE_S = 60.0
# Wait before trying again after the current session spoke during an attempt.
RETRY_S = 1.0
Outcome = Literal["done", "busy", "failed", "gone"]


class RolloverKeeper(Protocol):
    """What a rollover uses of its keeper (an ``UpstreamKeeper``)."""

    port: HostPort
    config: ServerConfig
    settings: UpstreamSettings
    link: UpstreamLink | None
    ready: bool
    rebuilds: int
    lock: asyncio.Lock
    closed: bool
    idle: asyncio.Event
    holding: list[Any] | None

    async def build(self, restore_items: bool) -> tuple[UpstreamLink, UpstreamSession]: ...

    async def go_live(self, link: UpstreamLink, started: UpstreamSession) -> None: ...

    def stop_holding(self) -> list[Any]: ...

    async def forward_held(self, held: list[Any]) -> None: ...

    def log_rebuilt(self, reason: str, link: UpstreamLink) -> None: ...

    async def release_pending(self, link: UpstreamLink) -> None: ...


class Rollover:
    """The rollover timer of one keeper (re-armed for each new upstream session)."""

    def __init__(self, keeper: RolloverKeeper) -> None:
        # Weakly: the keeper owns this timer, and each holding the other would be a
        # cycle that only a full collection frees.
        self.keeper = cast("RolloverKeeper", weakref.proxy(keeper))
        self._timer: asyncio.Task[Any] | None = None

    def arm(self, link: UpstreamLink, expires_at: float | None) -> None:
        """Roll ``link``'s session over ``rollover_margin_s`` before ``expires_at``."""
        self.cancel()
        if expires_at is not None:
            when = expires_at - self.keeper.settings.rollover_margin_s
            self._timer = self.keeper.port.spawn(self._at(link, when), "upstream-rollover")

    def cancel(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    async def _at(self, link: UpstreamLink, when: float) -> None:
        keeper = self.keeper
        await keeper.config.sleep(self._delay(when))
        while True:
            await keeper.idle.wait()
            if await self.attempt(link) != "busy":
                return
            await asyncio.sleep(RETRY_S)

    def _delay(self, when: float) -> float:
        keeper = self.keeper
        delay = when - keeper.config.clock()
        if delay >= MIN_UPSTREAM_LIFE_S:
            return delay
        # An expires_at this close (or past) on a fresh session means the clocks
        # disagree; rolling over at once would only repeat on the next session.
        log.warning(
            "relay: the upstream session expires in %.0f s by this server's clock; "
            "rolling over after %.0f s instead (check both clocks)",
            delay + keeper.settings.rollover_margin_s,
            MIN_UPSTREAM_LIFE_S,
            extra={"session_id": keeper.port.session_id},
        )
        return MIN_UPSTREAM_LIFE_S

    async def attempt(self, link: UpstreamLink) -> Outcome:
        """One try: build the next session while ``link``'s events are held back."""
        keeper = self.keeper
        async with keeper.lock:
            if keeper.closed or link is not keeper.link:
                return "gone"
            keeper.ready = False  # client events wait for whichever session goes on
            keeper.holding = []
            try:
                new, started = await keeper.build(restore_items=True)
            except DIAL_FAILURES as exc:
                log.warning("relay: rollover failed (%s); the current upstream goes on", exc)
                await self._stay(link)
                return "failed"
            if keeper.holding:
                await new.close("rollover abandoned: the current session moved on")
                log.info("relay: the upstream spoke during a rollover; trying again later")
                await self._stay(link)
                return "busy"
            keeper.stop_holding()
            keeper.rebuilds += 1
            keeper.config.metrics.count_upstream_rebuild("rollover")
            keeper.link = new  # the old pump stops forwarding from here on
            await link.close("rolled over to a new upstream session")
            await keeper.go_live(new, started)
            keeper.log_rebuilt("rollover", new)
            return "done"

    async def _stay(self, link: UpstreamLink) -> None:
        """Go on with ``link``: forward what it said meanwhile, then the held client events."""
        keeper = self.keeper
        await keeper.forward_held(keeper.stop_holding())
        await keeper.release_pending(link)
