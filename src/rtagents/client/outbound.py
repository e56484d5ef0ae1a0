"""The path of one outgoing event: checked and encoded once, then the gate, the queue or the wire.

``send`` checks and encodes the event once (:mod:`.outgoing`; a bad field
raises :class:`LocalProtocolError` naming it, and nothing is sent).
``session.update`` is noted for a later rebuild;
``response.create`` passes the :class:`~.gate.ResponseGate`, which may hold it
(with its text) until the active response is done. The frame then goes on the
live :class:`~.connection.Connection`, or waits in the bounded
:class:`~.outbox.SendQueue` while a reconnect has none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..protocol.errors import ConnectionFailure, LocalProtocolError
from .events import type_of
from .outgoing import Outgoing, encode_checked, plain_event

if TYPE_CHECKING:
    from ..observability.event_log import EventLog
    from .asked import AskedConfig
    from .connection import Connection
    from .gate import ResponseGate
    from .outbox import SendQueue


class Outbound:
    """Where the session's frames go: the current connection, or the queue meanwhile."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        asked: AskedConfig,
        gate: ResponseGate,
        queue: SendQueue,
        resilient: bool,
        is_closed: Callable[[], bool],
        closed_error: Callable[[str, str], ConnectionFailure],
    ) -> None:
        self.connection: Connection | None = None
        """The connection sends go to (and the reader reads); None between connections."""
        self.installs = 0
        """Connections made current so far (a resume, rebuild or rollover adds one)."""
        self.queue = queue
        self.resilient = resilient
        """Reconnect is on: without a live connection frames queue instead of failing."""
        self._log = event_log
        self._asked = asked
        self._gate = gate
        self._is_closed = is_closed
        self._closed_error = closed_error

    async def send(self, event: BaseModel | Mapping[str, Any]) -> str:
        """Check, encode and send (or queue, or hold at the gate) one event; its ``event_id``."""
        data = plain_event(event)
        try:
            out = encode_checked(data)
        except LocalProtocolError as err:
            event_id = data["event_id"]
            shown_id = event_id if isinstance(event_id, str) else None
            self._log.outbound(type_of(data), shown_id, outcome="invalid", error=err)
            raise
        if out.type == "session.update" and isinstance(out.data.get("session"), Mapping):
            self._asked.sent(out.event_id, out.data["session"])
        elif out.type == "response.create" and not self._is_closed():
            if not self._gate.try_claim(out):
                return out.event_id  # held until the active response is done
        await self.send_frame(out.type, out.event_id, out.text)
        return out.event_id

    async def send_gated(self, out: Outgoing) -> None:
        """A ``response.create`` the gate held, sent now that it lets it through."""
        await self.send_frame(out.type, out.event_id, out.text)

    async def send_frame(self, event_type: str, event_id: str, text: str) -> None:
        """Put one encoded frame on the live connection, or queue it while there is none."""
        try:
            await self._put(event_type, event_id, text)
        except ConnectionFailure:
            if event_type == "response.create":
                self._gate.release(event_id)  # else the gate waits claim_timeout for it
            raise

    async def _put(self, event_type: str, event_id: str, text: str) -> None:
        if self._is_closed():
            raise self._closed_error(event_type, event_id)
        connection = self.connection
        if connection is not None and connection.live:
            try:
                if await connection.send(text):
                    self._log.outbound(event_type, event_id)
                    return
            except ConnectionFailure:
                if not self.resilient:
                    raise
                # Kept in the resend ring: a resume re-sends it if the server missed it.
                self._log.outbound(event_type, event_id, outcome="pending_resend")
                return
        if not self.resilient:
            raise self._closed_error(event_type, event_id)
        self.queue.enqueue(event_type, event_id, text)
        self._log.outbound(event_type, event_id, outcome="queued")

    # -- switching connections (reconnect and rollover) ---------------------------------

    async def install(self, connection: Connection) -> None:
        """Make ``connection`` current: send what queued, then let sends go straight to it."""
        self.connection = connection
        self.installs += 1
        await connection.go_live(self.queue, self._log)

    @property
    def live(self) -> bool:
        """A connection takes sends now (False while reconnecting or before the first)."""
        return self.connection is not None and self.connection.live

    def detach(self) -> Connection | None:
        """Stop sending on the current connection (sends queue); the connection let go of."""
        old, self.connection = self.connection, None
        if old is not None:
            old.live = False
        return old
