"""The process-wide connection cap: open WebSocket sessions and WebRTC calls, counted together.

Every new session takes a :class:`Slot` before its upgrade (or before its SDP
answer) and gives it back when the session ends, so the count is exact even
while many handshakes are in flight at once. Past
``limits.concurrent_connections`` a new one is refused with HTTP 503
``too_many_connections`` and ``Retry-After``, the same JSON ``error`` body as
every other handshake refusal. A resume takes no slot: the session it takes
over still holds its own, and a sideband rides on its call's.
"""

from __future__ import annotations

import asyncio

from ..auth import Refusal
from ..held_place import HeldPlace

# Seconds a refused client is told to wait: sessions last minutes, so a slot
# rarely frees sooner, but a prompt retry costs the server only a refusal.
RETRY_AFTER_S = 5


class Admission:
    """How many connections are open, against the limit they may not pass."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        # Tasks that give a slot back when its call ends (kept so none is collected).
        self._watchers: set[asyncio.Task[None]] = set()

    def slot(self) -> Slot:
        """An untaken slot: :meth:`Slot.take` claims it, :meth:`Slot.release` is always safe."""
        return Slot(self)

    def take(self) -> Slot:
        """A taken slot, or :class:`Refusal` 503 ``too_many_connections``."""
        slot = Slot(self)
        slot.take()
        return slot

    def check(self) -> None:
        """Refuse (503) if the cap is reached now, taking nothing.

        For a WebRTC call: checked before the caller's secret is spent, then
        :meth:`hold_until` counts the call from its offer to its end. Calls
        checked at the same moment may pass the cap by the few in between.
        """
        if self.open >= self.limit:
            raise self.refusal()

    def hold_until(self, ended: asyncio.Event) -> None:
        """Count one connection until ``ended`` is set (a call's end, whatever ends it)."""
        slot = Slot(self)
        self.open += 1
        slot.taken = True
        slot.release_when(ended)

    def refusal(self) -> Refusal:
        return Refusal(
            503,
            "too_many_connections",
            f"The server has {self.open} open sessions and calls, its limit "
            f"(limits.concurrent_connections = {self.limit}); try again in {RETRY_AFTER_S} s "
            "or on another server.",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )


class Slot(HeldPlace):
    """One connection's place under the cap; releasing twice gives back one place."""

    def __init__(self, admission: Admission) -> None:
        super().__init__(admission._watchers)
        self._admission = admission
        self.taken = False

    @property
    def holding(self) -> bool:
        return self.taken

    def take(self) -> None:
        if self.taken:
            return
        admission = self._admission
        if admission.open >= admission.limit:
            raise admission.refusal()
        admission.open += 1
        self.taken = True

    def release(self) -> None:
        if self.taken:
            self.taken = False
            self._admission.open -= 1
