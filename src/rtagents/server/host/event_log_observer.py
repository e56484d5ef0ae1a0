"""The first observer of every host: one structured log record per event in and out, on a budget.

Ok events are logged at DEBUG (an operator's trace, skipped at once when
DEBUG is off: audio deltas come by the hundred). Failures are logged at
WARNING through the session's :class:`LogBudget`: the first of each kind is
written, repeats are counted and summarised, and a refused client event is
one record (the ``error`` reply it gets is not logged a second time).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable

from pydantic import BaseModel

from ...observability.event_log import EventLog
from ...observability.log_budget import LogBudget
from ...protocol.client_text import loggable
from ...protocol.errors import RealtimeError
from .backend import ReceivedEvent

# Characters of a client string kept in a kind's key (the key is held all session).
_KEY_CHARS = 64


class EventLogObserver:
    """Logs what the host sends and receives through an :class:`EventLog`.

    ``log_records`` is the session's budget of failure records
    (limits.session_log_records); 0 writes every one.
    """

    def __init__(self, events: EventLog, *, log_records: int = 0) -> None:
        self.events = events
        self.budget = LogBudget(log_records, events.summary) if log_records > 0 else None
        # The error of the client event just refused: its reply is not logged again.
        self._refused: RealtimeError | None = None

    def on_sent(self, event: BaseModel, error: RealtimeError | None) -> None:
        event_type = getattr(event, "type", None)
        if error is None and event_type != "error":
            if self._quiet():
                return  # an ok event is logged at DEBUG only; audio deltas come by the hundred
            self.events.outbound(event_type, getattr(event, "event_id", None))
            return
        if error is not None and error is self._refused:
            self._refused = None
            return  # logged with the client event it answers
        wire_error = getattr(event, "error", None)
        code = error.code if error is not None else getattr(wire_error, "code", None)
        param = error.param if error is not None else getattr(wire_error, "param", None)
        if self._admit("out", event_type, "error", code, param):
            self.events.outbound(
                event_type,
                getattr(event, "event_id", None),
                outcome="error" if error is not None else "ok",
                error=error,
            )

    def on_received(self, inbound: ReceivedEvent) -> None:
        if inbound.outcome == "ok":
            if self._quiet():
                return
            self.events.inbound(inbound.type, inbound.event_id)
            return
        error = inbound.error
        self._refused = error
        # An unknown type is the client's own text: every one is the same kind.
        event_type = None if inbound.outcome == "unknown" else inbound.type
        code = error.code if error is not None else None
        param = error.param if error is not None else None
        if self._admit("in", event_type, inbound.outcome, code, param):
            self.events.inbound(
                inbound.type, inbound.event_id, outcome=inbound.outcome, error=error
            )

    def close(self) -> None:
        """The session ended: write the summaries of what was not written."""
        if self.budget is not None:
            self.budget.close()

    def _admit(
        self,
        direction: str,
        event_type: str | None,
        outcome: str,
        code: str | None,
        param: str | None,
    ) -> bool:
        if self.budget is None:
            return True
        if code == "unknown_parameter" and param:
            # The field's name is the client's text: every unknown field of one
            # object is the same kind.
            param = f"{param.rpartition('.')[0]}.*"
        key: Hashable = (
            direction,
            outcome,
            event_type and event_type[:_KEY_CHARS],
            code and code[:_KEY_CHARS],
            param and param[:_KEY_CHARS],
        )

        def describe() -> dict[str, object]:
            shown = loggable(event_type) if event_type else "?"
            return {
                "kind": f"{direction} {shown} {outcome}",
                "code": code,
                "param": loggable(param) if param else None,
            }

        return self.budget.admit(key, describe)

    def _quiet(self) -> bool:
        """Whether DEBUG records are off (then ok events, logged at DEBUG, log nothing)."""
        return not self.events.logger.isEnabledFor(logging.DEBUG)
