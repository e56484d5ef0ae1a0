"""A server's events against a recording's: ids, times and audio bytes ignored, per response.

``rtagents replay`` sends a recording's client events to a server and hands
what came back here. Events are compared in order within their group (each
response, in the order responses started; everything else is the
``session`` group), after dropping what differs between two runs of the
same conversation: ids, event ids, timestamps and audio payloads. The first
difference of each group is reported, with the field that differs.

It also carries ids across: a client event that names a server's id (a
``call_id``, an ``item_id``) is sent with the id the new server gave the
same thing (:class:`IdMap`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .recording_format import AUDIO_FIELDS

_IGNORED = frozenset({"id", "event_id", "created_at", "expires_at"})
_SHOWN_CHARS = 80


def _is_id(key: str) -> bool:
    return key == "id" or key.endswith("_id")


def normalize(event: Mapping[str, Any]) -> dict[str, Any]:
    """``event`` without ids, times and audio payloads (what two runs may differ in)."""
    audio = AUDIO_FIELDS.get(str(event.get("type")))
    return {
        key: _normal(value)
        for key, value in event.items()
        if key != audio and key not in _IGNORED and not _is_id(key)
    }


def _normal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items() if k not in _IGNORED and not _is_id(k)}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def first_difference(recorded: Any, replayed: Any, path: str = "") -> str | None:
    """Where two normalized values first differ (``path: recorded ≠ replayed``), or None."""
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        for key in list(recorded) + [k for k in replayed if k not in recorded]:
            where = f"{path}.{key}" if path else key
            if key not in replayed:
                return f"{where}: recorded {_shown(recorded[key])}, missing in the replay"
            if key not in recorded:
                return f"{where}: not in the recording, replayed {_shown(replayed[key])}"
            found = first_difference(recorded[key], replayed[key], where)
            if found is not None:
                return found
        return None
    if isinstance(recorded, list) and isinstance(replayed, list):
        for index, (a, b) in enumerate(zip(recorded, replayed, strict=False)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found is not None:
                return found
        if len(recorded) != len(replayed):
            return f"{path}: {len(recorded)} entries recorded, {len(replayed)} replayed"
        return None
    if recorded != replayed:
        return f"{path or 'event'}: recorded {_shown(recorded)}, replayed {_shown(replayed)}"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class Group:
    """The events of one response (``label`` "response N") or of the rest ("session")."""

    label: str
    recorded_id: str | None
    events: list[Mapping[str, Any]]


def group_events(events: Sequence[Mapping[str, Any]]) -> list[Group]:
    """``events`` split into the session group and one group per response, in order."""
    groups: dict[str | None, Group] = {None: Group("session", None, [])}
    item_owner: dict[str, str] = {}  # item id -> the response that produced it
    running: str | None = None  # the response created and not done yet
    for event in events:
        owner = _response_of(event, item_owner)
        kind = event.get("type")
        if kind == "response.created":
            running = owner
        elif kind == "response.done":
            running = None
        elif owner is None and kind == "error" and not _answers_client(event):
            owner = running  # a model failure during a response belongs to it
        if owner not in groups:
            groups[owner] = Group(f"response {len(groups)}", owner, [])
        groups[owner].events.append(event)
    return list(groups.values())


def _answers_client(event: Mapping[str, Any]) -> bool:
    error = event.get("error")
    return isinstance(error, Mapping) and error.get("event_id") is not None


def _response_of(event: Mapping[str, Any], item_owner: dict[str, str]) -> str | None:
    response_id = event.get("response_id")
    response = event.get("response")
    if response_id is None and isinstance(response, Mapping):
        response_id = response.get("id")
    item = event.get("item")
    item_id = item.get("id") if isinstance(item, Mapping) else event.get("item_id")
    if isinstance(response_id, str):
        if isinstance(item_id, str):
            item_owner[item_id] = response_id
        return response_id
    return item_owner.get(item_id) if isinstance(item_id, str) else None


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first difference found in one group."""

    group: str
    recorded_id: str | None
    index: int  # 1-based position of the event within its group
    event_type: str | None
    detail: str

    def describe(self) -> str:
        where = f" (recorded as {self.recorded_id})" if self.recorded_id else ""
        kind = f" {self.event_type}" if self.event_type else ""
        return f"{self.group}{where}: event {self.index}{kind}: {self.detail}"


def compare(
    recorded: Sequence[Mapping[str, Any]], replayed: Sequence[Mapping[str, Any]]
) -> list[Divergence]:
    """The first divergence of each group (responses matched in the order they started)."""
    found = []
    replayed_groups = group_events(replayed)
    for index, group in enumerate(group_events(recorded)):
        other = replayed_groups[index].events if index < len(replayed_groups) else []
        divergence = _first_in_group(group, other)
        if divergence is not None:
            found.append(divergence)
    for group in replayed_groups[len(group_events(recorded)) :]:
        first = group.events[0]
        found.append(
            Divergence(group.label, None, 1, str(first.get("type")), "not in the recording")
        )
    return found


def _first_in_group(group: Group, replayed: Sequence[Mapping[str, Any]]) -> Divergence | None:
    for index, recorded in enumerate(group.events):
        kind = str(recorded.get("type"))
        if index >= len(replayed):
            detail = f"recorded {kind}, but the replay has no more events here"
            return Divergence(group.label, group.recorded_id, index + 1, kind, detail)
        other = str(replayed[index].get("type"))
        if other != kind:
            detail = f"recorded {kind}, replayed {other}"
            return Divergence(group.label, group.recorded_id, index + 1, kind, detail)
        difference = first_difference(normalize(recorded), normalize(replayed[index]))
        if difference is not None:
            return Divergence(group.label, group.recorded_id, index + 1, kind, difference)
    if len(replayed) > len(group.events):
        extra = replayed[len(group.events)]
        detail = f"the replay has more events here, from {extra.get('type')}"
        return Divergence(
            group.label, group.recorded_id, len(group.events) + 1, str(extra.get("type")), detail
        )
    return None


class IdMap:
    """Recorded server ids -> the ids the replay's server gave the same things."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def learn(self, recorded: Any, replayed: Any) -> None:
        """Pair the ids of two events in the same place (same type, same position)."""
        if isinstance(recorded, Mapping) and isinstance(replayed, Mapping):
            for key, value in recorded.items():
                other = replayed.get(key)
                if _is_id(key) and isinstance(value, str) and isinstance(other, str):
                    if value != other:
                        self.ids[value] = other
                else:
                    self.learn(value, other)
        elif isinstance(recorded, list) and isinstance(replayed, list):
            for a, b in zip(recorded, replayed, strict=False):
                self.learn(a, b)

    def translate(self, event: Any) -> Any:
        """``event`` with every recorded id it names replaced by the replay's."""
        if isinstance(event, Mapping):
            return {
                key: self.ids.get(value, value)
                if _is_id(key) and isinstance(value, str)
                else self.translate(value)
                for key, value in event.items()
            }
        if isinstance(event, list):
            return [self.translate(value) for value in event]
        return event
