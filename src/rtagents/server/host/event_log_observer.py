"""The first observer of every host: one structured log record per event in and out."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from ...observability.event_log import EventLog
from ...protocol.errors import RealtimeError
from .backend import ReceivedEvent


class EventLogObserver:
    """Logs what the host sends and receives through an :class:`EventLog`."""

    def __init__(self, events: EventLog) -> None:
        self.events = events

    def on_sent(self, event: BaseModel, error: RealtimeError | None) -> None:
        if error is None and self._quiet() and getattr(event, "type", None) != "error":
            return  # an ok event is logged at DEBUG only; audio deltas come by the hundred
        self.events.outbound(
            getattr(event, "type", None),
            getattr(event, "event_id", None),
            outcome="error" if error is not None else "ok",
            error=error,
        )

    def on_received(self, inbound: ReceivedEvent) -> None:
        if inbound.outcome == "ok" and self._quiet():
            return
        self.events.inbound(
            inbound.type, inbound.event_id, outcome=inbound.outcome, error=inbound.error
        )

    def _quiet(self) -> bool:
        """Whether DEBUG records are off (then ok events, logged at DEBUG, log nothing)."""
        return not self.events.logger.isEnabledFor(logging.DEBUG)
