"""What decoding gives besides a GA event, and how bytes that failed validation are read.

:class:`UnknownEvent` (a type this version does not know: delivered, never
fatal) and :class:`InvalidEvent` (not a valid event: the error names the
field), and the best-effort reading of refused bytes (their JSON, ``type`` and
``event_id``, and the error to send back) that :mod:`.codec` builds them from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json

from .errors import ProtocolError, RemoteProtocolError
from .json_depth import top_level_strings
from .paths import describe_validation_error, first_error


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent:
    """An event whose ``type`` this version does not know: delivered, never fatal."""

    type: str
    event_id: str | None
    data: Mapping[str, Any]
    raw: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidEvent:
    """Bytes that are not a valid event; ``error`` names the offending field.

    ``type``/``event_id``/``data`` are filled in as far as the bytes allow, so
    state bookkeeping can go on (a bad ``response.done`` still ends a response).
    """

    type: str | None
    event_id: str | None
    data: Mapping[str, Any] | None
    raw: bytes = field(repr=False)
    error: ProtocolError


def _slot_setters() -> tuple[Callable[[UnknownEvent, Any], None], ...]:
    names = tuple(f.name for f in fields(UnknownEvent))
    assert names == ("type", "event_id", "data", "raw"), names  # keep in step with the class
    return tuple(getattr(UnknownEvent, name).__set__ for name in names)


_set_type, _set_event_id, _set_data, _set_raw = _slot_setters()


def unknown_event(etype: str, event_id: str | None, data: Any, raw: bytes) -> UnknownEvent:
    """``UnknownEvent(...)`` at under half the cost, for the decode path.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per
    field; filling the slots directly gives the same, equal object. Unknown
    types can arrive as often as any event, so this is on a hot path.
    """
    event = object.__new__(UnknownEvent)
    _set_type(event, etype)
    _set_event_id(event, event_id)
    _set_data(event, data)
    _set_raw(event, raw)
    return event


def peek_fields(raw: bytes) -> tuple[Mapping[str, Any] | None, str | None, str | None]:
    """Best-effort (json, type, event_id) of bytes that failed validation."""
    return fields_of(parsed_json(raw))


def parsed_json(raw: bytes) -> Any:
    try:
        return from_json(raw)
    except ValueError:
        return None


def fields_of(data: Any) -> tuple[Mapping[str, Any] | None, str | None, str | None]:
    """(json, type, event_id) of parsed JSON, where it is an object with such strings."""
    if not isinstance(data, dict):
        return None, None, None
    etype = data.get("type")
    event_id = data.get("event_id")
    return (
        data,
        etype if isinstance(etype, str) else None,
        event_id if isinstance(event_id, str) else None,
    )


def too_deep(exc: ValidationError) -> bool:
    error = first_error(exc)
    return bool(error["type"] == "json_invalid" and "recursion limit" in str(error["msg"]))


def readable_ids(raw: bytes) -> tuple[str | None, str | None]:
    """The ``type`` and ``event_id`` of bytes the parser refused, where they can be read.

    The refusal then still names the client's event (a lone surrogate escape
    or a stray byte after the ``event_id`` must not cost the client its
    correlation key). Values that cannot be sent back as UTF-8 are left out.
    """
    fields = top_level_strings(raw, ("type", "event_id"))
    etype, event_id = fields.get("type"), fields.get("event_id")
    return _sendable(etype), _sendable(event_id)


def _sendable(text: str | None) -> str | None:
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return None
    return text


def too_deep_event(raw: bytes) -> InvalidEvent:
    """Bytes nested past the parser's depth: refused, with the event_id if it can be read."""
    etype, event_id = readable_ids(raw)
    err = RemoteProtocolError(
        "The event nests objects and arrays deeper than the JSON parser reads (about 200 "
        "levels); no Realtime event needs more than a few. Send it without the deep nesting.",
        code="json_too_deep",
        event_id=event_id,
    )
    return InvalidEvent(type=etype, event_id=event_id, data=None, raw=raw, error=err)


def describe_failure(
    error: Mapping[str, Any], data: Mapping[str, Any] | None, etype: str | None
) -> tuple[str, str | None, str]:
    """(code, param path, message) for the first validation error."""
    kind = error["type"]
    if data is None:
        if kind == "json_invalid":
            return "invalid_json", None, f"The message is not valid JSON: {error['msg']}."
        return "invalid_event", None, "An event must be a JSON object with a 'type' field."
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        return "invalid_event", "type", "The event has no string 'type' field; add one."
    return describe_validation_error(error, etype)
