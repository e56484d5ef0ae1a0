"""One ``response.create`` in flight at a time, so the server never has to refuse one.

A server runs one in-conversation response at a time and answers a second
``response.create`` with ``conversation_already_has_active_response``. Apps (and
the tool runner) ask for responses whenever they like; the gate sends the first
at once and holds the others until the active response is done. Out-of-band
requests (``conversation: "none"``) run beside the active one and pass straight
through. A response the server started by itself (server VAD) also holds the
gate, because the mirror shows it as active.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from .events import type_of

if TYPE_CHECKING:
    from .outgoing import Outgoing

ACTIVE_RESPONSE = "conversation_already_has_active_response"

Sender = Callable[["Outgoing"], Awaitable[object]]


def is_out_of_band(event: Mapping[str, Any]) -> bool:
    response = event.get("response")
    return isinstance(response, dict) and response.get("conversation") == "none"


class ResponseGate:
    """Queued ``response.create`` events and what holds them back."""

    def __init__(self, *, claim_timeout: float = 10.0) -> None:
        # A create the server never answered (no response.created, no error with
        # its event_id) stops holding the gate after this long: never a wedge.
        self.claim_timeout = claim_timeout
        self._claimed_at = 0.0
        self._queue: deque[Outgoing] = deque()  # checked and encoded, waiting their turn
        self._in_flight: str | None = None  # event_id of our create, until created/failed
        self._in_flight_event: Outgoing | None = None
        self._active: set[str] = set()  # in-conversation responses not done yet
        self._wake = asyncio.Event()

    @property
    def busy(self) -> bool:
        if self._in_flight is not None and time.monotonic() - self._claimed_at > self.claim_timeout:
            self._in_flight = None
        return self._in_flight is not None or bool(self._active)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def try_claim(self, event: Outgoing) -> bool:
        """True if ``event`` may be sent now (and marks it in flight); else it is queued."""
        if is_out_of_band(event.data):
            return True
        if self.busy or self._queue:
            self._queue.append(event)
            return False
        self._hold(event)
        return True

    def _hold(self, event: Outgoing) -> None:
        self._claimed_at = time.monotonic()
        self._in_flight = event.event_id
        self._in_flight_event = event

    def release(self, event_id: str) -> None:
        """Our create ``event_id`` never left (sending it failed): stop waiting for it."""
        if self._in_flight == event_id:
            self._in_flight = None
            self._wake.set()

    def observe(self, event: object, conversation: Any) -> None:
        """Follow responses starting and ending (called for every received event)."""
        etype = type_of(event)
        if etype == "response.created":
            response_id = getattr(getattr(event, "response", None), "id", None)
            record = conversation.responses.get(response_id) if response_id else None
            if record is not None and record.conversation == "auto":
                if record.status == "in_progress":
                    self._active.add(record.id)
                self._in_flight = None
        elif etype == "response.done":
            response_id = getattr(getattr(event, "response", None), "id", None)
            self._active.discard(response_id or "")
        elif etype == "error":
            error = getattr(event, "error", None)
            if self._in_flight is not None and getattr(error, "event_id", None) == self._in_flight:
                if getattr(error, "code", None) == ACTIVE_RESPONSE and self._in_flight_event:
                    # the server started one we had not seen yet: ask again after it
                    self._queue.appendleft(self._in_flight_event)
                self._in_flight = None
        self._wake.set()

    def reset(self) -> None:
        """A fresh server session (rebuild): nothing is active there."""
        self._in_flight = None
        self._active.clear()
        self._wake.set()

    def drop_queue(self) -> list[Outgoing]:
        dropped = list(self._queue)
        self._queue.clear()
        return dropped

    async def pump(self, send: Sender) -> None:
        """Send queued creates one by one as the gate frees up (runs until cancelled)."""
        while True:
            self._wake.clear()
            if self._queue and not self.busy:
                event = self._queue.popleft()
                self._hold(event)
                try:
                    await send(event)
                except Exception:  # the session ended or the event was refused locally
                    self._in_flight = None
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.claim_timeout)
            except TimeoutError:
                pass  # look again: an unanswered claim may have expired
