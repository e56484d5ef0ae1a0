"""The records of a recording that are not events: lifecycle, failure and close.

:class:`.recording.RecordingWriter` writes them; they sit here because they
share nothing with the event paths but the line writer underneath
(``_record``) and the flush after the records that must not wait in a batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from ..protocol.errors import RealtimeError
from .recording_format import CloseBy, redact_text


class OtherRecords(ABC):
    """Lifecycle, failure and close records, over the writer's ``_record`` (marks, written
    several a turn, are formatted by the writer itself)."""

    @abstractmethod
    def _record(self, fields: dict[str, Any], *, at: float | None = None) -> None:
        """Write one record: ``fields`` (with its ``kind``), stamped now or at ``at``."""

    @abstractmethod
    def _flush(self) -> None:
        """Write out the batch now (after the records that must not wait in it)."""

    def lifecycle(self, source: str, target: str, trigger: str) -> None:
        self._record({"kind": "lifecycle", "from": source, "to": target, "trigger": trigger})
        self._flush()

    def failure(
        self,
        category: str,
        message: str,
        *,
        code: str | None = None,
        origin: str | None = None,
        event_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """A classified failure (``connection``, ``protocol``, ``model`` or ``tool``)."""
        self._record(
            {
                "kind": "failure",
                "category": category,
                "code": code,
                "message": redact_text(message),
                "origin": origin,
                "event_id": event_id,
                "detail": dict(detail or {}),
            }
        )
        self._flush()

    def error(self, error: RealtimeError, **detail: Any) -> None:
        """A failure record for an error of the SDK's taxonomy (its category and origin)."""
        if error.param is not None:
            detail.setdefault("param", error.param)
        self.failure(
            str(error.category),
            error.message,
            code=error.code,
            origin=str(error.origin),
            event_id=error.event_id,
            detail=detail,
        )

    def connection_closed(self, code: int | None, reason: str | None, by: CloseBy) -> None:
        """The connection closed (a ``close`` record); the file stays open for what follows."""
        reason = redact_text(reason) if reason else reason
        self._record({"kind": "close", "code": code, "reason": reason, "by": by})
        self._flush()
