"""One outgoing event: the app's model or dict, checked against the GA schema and encoded once.

:func:`encode_checked` turns the event into JSON text once and validates
*that text*, so the frame that goes out is the one that was checked. A bad
field raises :class:`LocalProtocolError` naming it, and nothing is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ..protocol.codec import (
    InvalidEvent,
    UnknownEvent,
    decode_client_event,
    validate_client_event,
)
from ..protocol.errors import LocalProtocolError
from ..protocol.references import stand_in_for_references
from .events import new_event_id


def as_plain(value: Any) -> Any:
    """Models become JSON-ready dicts (only the fields that were set); the rest stays."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if isinstance(value, Mapping):
        return {key: as_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_plain(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A client event that passed the schema, and its frame (encoded once)."""

    type: str
    event_id: str
    data: dict[str, Any]
    text: str


def plain_event(event: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """``event`` as a JSON-ready dict with an ``event_id`` (generated when missing)."""
    data = as_plain(event)
    if not isinstance(data, dict):
        raise LocalProtocolError(
            f"an event must be a mapping or an openai event model, got {type(event).__name__}",
            code="invalid_event",
        )
    if data.get("event_id") is None:
        data["event_id"] = new_event_id()
    return data


def encode_checked(data: dict[str, Any]) -> Outgoing:
    """``data`` (see :func:`plain_event`) as a checked frame, encoded once.

    Raises :class:`LocalProtocolError` naming the field when the event is not
    a valid GA client event.
    """
    try:
        text = json.dumps(data, separators=(",", ":"))
    except (TypeError, ValueError) as exc:  # bytes, sets, objects, circular references
        raise LocalProtocolError(
            f"the {data.get('type')!r} event cannot be sent as JSON: {exc}; pass only "
            "str, numbers, bools, None, lists and dicts (or openai event models)",
            code="invalid_value",
            event_id=data["event_id"] if isinstance(data.get("event_id"), str) else None,
        ) from exc
    _, references = stand_in_for_references(data)
    if references:
        # item_reference inputs are checked on their own and the rest through a
        # stand-in document: the one case validated apart from the frame.
        validate_client_event(data)
    elif isinstance(decode_client_event(text), InvalidEvent | UnknownEvent):
        validate_client_event(data)  # raises the error that names the field
    return Outgoing(str(data["type"]), str(data["event_id"]), data, text)
