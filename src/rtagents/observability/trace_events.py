"""Which side sent an event, and what the rest of a trace looks up by id.

A recording is written from one side's view (``dir`` is ``sent`` or
``received``), but an analysis wants the protocol's view: client events and
server events. The GA event names never overlap between the two, so the type
decides, and ``dir`` with the header's ``side`` is only a cross-check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..protocol.codec import known_types
from .trace_input import Record

CLIENT_EVENT_TYPES: Final = known_types("client")  # the codec's list, not a copy
IDS_KEPT: Final = 100_000
"""Ids remembered per index: a recording of any length maps in bounded memory."""


def text(value: object) -> str | None:
    """``value`` if it is a string, else None (a recording's fields are never trusted)."""
    return value if isinstance(value, str) else None


def is_server_event(record: Record) -> bool:
    """Whether an ``event`` record holds an event the server sent."""
    kind = record.event_type
    return kind is not None and kind not in CLIENT_EVENT_TYPES


@dataclass(slots=True)
class EventIndex:
    """Client event types by ``event_id`` and tool names by ``call_id``."""

    client_events: dict[str, str] = field(default_factory=dict)
    tool_names: dict[str, str] = field(default_factory=dict)

    def client_event_type(self, event_id: str | None) -> str | None:
        return self.client_events.get(event_id) if event_id is not None else None

    def add(self, record: Record) -> None:
        event = record.event
        kind = record.event_type
        if event is None or kind is None:
            return
        if kind in CLIENT_EVENT_TYPES:
            event_id = text(event.get("event_id"))
            if event_id is not None and len(self.client_events) < IDS_KEPT:
                self.client_events.setdefault(event_id, kind)
            return
        call = _function_call(event)
        if call is not None and len(self.tool_names) < IDS_KEPT:
            self.tool_names.setdefault(*call)


def _function_call(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(call_id, name)`` of a function call item announced by a server event."""
    item = event.get("item")
    if not isinstance(item, Mapping) or item.get("type") != "function_call":
        return None
    call_id, name = text(item.get("call_id")), text(item.get("name"))
    return (call_id, name) if call_id is not None and name is not None else None
