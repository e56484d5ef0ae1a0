"""Responses of a conversation: which exist, which one is active, how they ended.

Part of the conversation reducer (:mod:`.conversation`), kept apart because
responses have their own rules: one starts in progress and ends exactly once
(a replayed ``response.created`` after ``response.done`` must not revive it),
and an out-of-band response never becomes the conversation's active one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]
# Final statuses a response.done may carry; anything else (or none) ends it as failed.
_FINAL_STATUSES: Final[dict[object, ResponseStatus]] = {
    status: status for status in get_args(ResponseStatus) if status != "in_progress"
}
MAX_RESPONSES: Final = 1024  # finished records kept; the oldest are forgotten first
MAX_IN_PROGRESS: Final = 1024  # responses a peer may leave running before the oldest is dropped


@dataclass(slots=True)
class ResponseRecord:
    """What is known about one response.

    ``conversation`` is ``"none"`` for an out-of-band response: the server sent
    ``conversation_id: null`` explicitly (the hosted API does so for
    ``response.create`` with ``conversation: "none"``). An absent
    ``conversation_id`` counts as ``"auto"``.
    """

    id: str
    status: ResponseStatus = "in_progress"
    conversation: Literal["auto", "none"] = "auto"
    output_item_ids: list[str] = field(default_factory=list)
    usage: Any | None = None
    status_details: Any | None = None


class Responses:
    """Response records by id, plus the ones still in progress (in start order)."""

    __slots__ = ("_records", "_in_progress")

    def __init__(self) -> None:
        self._records: dict[str, ResponseRecord] = {}
        self._in_progress: dict[str, None] = {}

    @property
    def records(self) -> Mapping[str, ResponseRecord]:
        return MappingProxyType(self._records)

    @property
    def active_id(self) -> str | None:
        """The newest in-progress response that writes to the conversation."""
        for response_id in reversed(self._in_progress):
            if self._records[response_id].conversation == "auto":
                return response_id
        return None

    def record(self, response_id: str) -> ResponseRecord:
        """The record of ``response_id``, created in progress if unseen."""
        record = self._records.get(response_id)
        if record is None:
            record = self._records[response_id] = ResponseRecord(id=response_id)
            self._in_progress[response_id] = None
            self._forget_oldest_finished()
        return record

    def started(self, response: Any) -> None:
        """Apply ``response.created``'s response model."""
        if response.id is None:
            return
        known = self._records.get(response.id)
        if known is not None and known.status != "in_progress":
            return  # a response never restarts
        record = self.record(response.id)
        explicit_none = "conversation_id" in response.model_fields_set
        out_of_band = explicit_none and response.conversation_id is None
        record.conversation = "none" if out_of_band else "auto"

    def finished(self, response: Any) -> None:
        """Apply ``response.done``'s response model."""
        if response.id is None:
            return
        record = self.record(response.id)
        output_ids = [item.id for item in response.output or () if item.id is not None]
        if output_ids:
            record.output_item_ids = output_ids
        record.usage = response.usage
        record.status_details = response.status_details
        self.end(response.id, response.status)

    def end(self, response_id: str, status: object) -> None:
        """End a response with ``status`` (``"failed"`` unless it is a final status)."""
        self.record(response_id).status = _FINAL_STATUSES.get(status, "failed")
        self._in_progress.pop(response_id, None)

    def _forget_oldest_finished(self) -> None:
        """Past :data:`MAX_RESPONSES`, forget the oldest finished record.

        Responses in progress are kept, unless a broken peer starts more than
        :data:`MAX_IN_PROGRESS` without ending them: then the oldest goes.
        """
        if len(self._in_progress) > MAX_IN_PROGRESS:
            stale = next(iter(self._in_progress))
            del self._in_progress[stale]
            del self._records[stale]
        if len(self._records) <= MAX_RESPONSES:
            return
        oldest = next((rid for rid in self._records if rid not in self._in_progress), None)
        if oldest is not None:
            del self._records[oldest]
