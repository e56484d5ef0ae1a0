"""Ordering anomalies in a recording: what the server sent out of its documented order.

A GA response runs ``response.created`` → items, parts, deltas → each part's
``.done`` → ``response.done``; an item id is announced once; nothing moves
after the connection closed. The checker follows the server's events in one
pass and names each event that breaks that order:

- ``delta_after_done``: a delta after its part's ``.done`` or its response's ``response.done``;
- ``event_after_done``: any other event of a response after its ``response.done``;
- ``unknown_response``: a ``response.*`` event for a response never created;
- ``duplicate_item_id``: ``conversation.item.added`` for an id already in the conversation;
- ``event_after_close``: an event recorded after the close, before a reconnect. When the
  recording side closed, frames it still receives were in flight (the peer may send until
  it reads the close frame): only what it sends afterwards counts.

A frame replayed after a resume (a sequence number already seen) is not an
anomaly: the resume protocol sends it again on purpose, and clients drop it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .trace_events import is_server_event, text
from .trace_input import Record
from .trace_model import Anomaly

ANOMALIES_KEPT: Final = 1000
KEYS_KEPT: Final = 100_000
# doctor: allow-beta-begin (the legacy name is recognised on purpose)
_ITEM_ADDED: Final = frozenset({"conversation.item.added", "conversation.item.created"})
# doctor: allow-beta-end
# lifecycle states in which the transport is open again after a close
_OPEN_AGAIN: Final = frozenset({"connecting", "configuring", "active"})


class _Bounded:
    """A set that forgets its oldest keys past KEYS_KEPT (an hour-long session stays bounded)."""

    def __init__(self) -> None:
        self._keys: dict[object, None] = {}

    def add(self, key: object) -> None:
        self._keys[key] = None
        if len(self._keys) > KEYS_KEPT:
            del self._keys[next(iter(self._keys))]

    def discard(self, key: object) -> None:
        self._keys.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._keys


class OrderChecker:
    """Fed every record in order; ``anomalies`` holds the first ANOMALIES_KEPT found."""

    def __init__(self, side: str | None = None) -> None:
        self.side = side  # the recording's side: a close it started lets frames still arrive
        self.anomalies: list[Anomaly] = []
        self.more = 0
        self._created = _Bounded()
        self._done = _Bounded()
        self._parts_done = _Bounded()
        self._items = _Bounded()
        self._seq: dict[str, int] = {}
        self._closed_at: str | None = None  # where the close was, while closed
        self._closed_by_us = False

    def add(self, record: Record) -> None:
        if record.kind == "close":
            self._closed_at = record.where
            self._closed_by_us = self.side is not None and record.data.get("by") == self.side
        elif record.kind == "lifecycle" and text(record.data.get("to")) in _OPEN_AGAIN:
            self._closed_at = None
        elif record.kind == "event" and not self._replayed(record):
            self._event(record)

    def _replayed(self, record: Record) -> bool:
        direction, seq = text(record.data.get("dir")) or "?", record.data.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            return False
        if record.event_type == "session.created":
            self._seq.clear()  # a new session (a rebuild) counts from 1 again
        if seq <= self._seq.get(direction, 0):
            return True
        self._seq[direction] = seq
        return False

    def _event(self, record: Record) -> None:
        kind = record.event_type or "(unparseable frame)"
        in_flight = self._closed_by_us and record.data.get("dir") == "received"
        if self._closed_at is not None and not in_flight:
            self._flag(record, "event_after_close", f"{kind} after the close at {self._closed_at}")
        event = record.event
        if event is None or not is_server_event(record):
            return
        if kind == "session.created":
            self._items = _Bounded()
        elif kind in _ITEM_ADDED:
            self._item_added(record, event)
        elif kind == "conversation.item.deleted":
            self._items.discard(text(event.get("item_id")))
        elif kind.startswith("response."):
            self._response_event(record, kind, event)

    def _item_added(self, record: Record, event: Mapping[str, Any]) -> None:
        item = event.get("item")
        item_id = text(item.get("id")) if isinstance(item, Mapping) else None
        if item_id is None:
            return
        if item_id in self._items:
            self._flag(record, "duplicate_item_id", f"item {item_id} was already added")
        self._items.add(item_id)

    def _response_event(self, record: Record, kind: str, event: Mapping[str, Any]) -> None:
        if kind in ("response.created", "response.done"):
            response = event.get("response")
            response_id = text(response.get("id")) if isinstance(response, Mapping) else None
        else:
            response_id = text(event.get("response_id"))
        if response_id is None:
            return
        if kind == "response.created":
            self._created.add(response_id)
            return
        if response_id not in self._created:
            self._flag(
                record,
                "unknown_response",
                f"{kind} for response {response_id}, never created",
                response_id,
            )
        elif response_id in self._done:
            rule = "delta_after_done" if kind.endswith(".delta") else "event_after_done"
            self._flag(record, rule, f"{kind} after response.done of {response_id}", response_id)
        elif kind.endswith(".delta") and _part(kind, event) in self._parts_done:
            stream = kind.removeprefix("response.").removesuffix(".delta")
            self._flag(
                record, "delta_after_done", f"{kind} after its {stream} was done", response_id
            )
        if kind == "response.done":
            self._done.add(response_id)
        elif kind.endswith(".done"):
            self._parts_done.add(_part(kind, event))

    def _flag(
        self, record: Record, rule: str, message: str, response_id: str | None = None
    ) -> None:
        if len(self.anomalies) >= ANOMALIES_KEPT:
            self.more += 1
            return
        self.anomalies.append(Anomaly(rule, message, record.t, record.where, response_id))


def _part(kind: str, event: Mapping[str, Any]) -> tuple[str, str | None, object]:
    """Which stream of which part a delta or ``.done`` belongs to."""
    stream = kind.removeprefix("response.").rsplit(".", 1)[0]
    index = event.get("content_index", 0)
    return stream, text(event.get("item_id")), index if type(index) is int else None
