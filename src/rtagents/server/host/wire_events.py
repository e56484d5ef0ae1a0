"""Building the server's events and items from the ``openai`` models.

Every outgoing event is constructed as its ``openai.types.realtime`` model, so
a field the schema does not allow fails here, in the server, instead of in a
client. :func:`build` fills in the ``type`` literal and a fresh ``event_id``.
Items are plain wire dicts until an event carries them (the event validates
them); they never hold audio bytes, as on the hosted API.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

from openai.types.realtime import RealtimeErrorEvent
from pydantic import BaseModel

from ..protocol.errors import RealtimeError
from . import ids

M = TypeVar("M", bound=BaseModel)


@cache
def _type_literal(cls: type[BaseModel]) -> str:
    (value,) = typing.get_args(cls.model_fields["type"].annotation)
    return str(value)


def build(cls: type[M], **fields: Any) -> M:
    """An instance of event model ``cls`` with ``type`` and a new ``event_id``."""
    return cls.model_validate({"type": _type_literal(cls), "event_id": ids.event_id(), **fields})


def error_event(
    error: RealtimeError, *, error_type: str = "invalid_request_error"
) -> RealtimeErrorEvent:
    """The wire ``error`` event for ``error`` (the client's ``event_id`` included)."""
    return build(
        RealtimeErrorEvent,
        error={
            "type": error_type,
            "code": error.code,
            "message": error.message,
            "param": error.param,
            "event_id": error.event_id,
        },
    )


def user_audio_item(item_id: str) -> dict[str, Any]:
    """The user message a commit creates; its transcript arrives later, if at all."""
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }


def assistant_message(item_id: str, *, status: str = "in_progress") -> dict[str, Any]:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [],
    }


def assistant_part(*, audio: bool, text: str) -> dict[str, Any]:
    """The finished content of an assistant message (transcript or text)."""
    if audio:
        return {"type": "output_audio", "transcript": text}
    return {"type": "output_text", "text": text}


def response_part(*, audio: bool, text: str) -> dict[str, Any]:
    """The ``part`` of ``response.content_part.*`` events."""
    if audio:
        return {"type": "audio", "transcript": text}
    return {"type": "text", "text": text}


def function_call_item(
    item_id: str, *, call_id: str, name: str, arguments: str, status: str
) -> dict[str, Any]:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def normalized_item(item: BaseModel, item_id: str) -> dict[str, Any]:
    """A client-created item as the server stores it: id, object and status set.

    Audio bytes sent inside an ``input_audio`` part are dropped from the item
    (the server keeps them aside for transcription), as the hosted API does.
    """
    data = item.model_dump(mode="json", exclude_unset=True, by_alias=True)
    data["id"] = item_id
    data["object"] = "realtime.item"
    data.setdefault("status", "completed")
    content = data.get("content")
    if isinstance(content, list):
        data["content"] = [_without_audio(part) for part in content]
    return data


def _without_audio(part: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(part)
    if out.get("type") == "input_audio":
        out.pop("audio", None)
        out.setdefault("transcript", None)
    return out


def item_dict(item: Any) -> dict[str, Any]:
    """A stored conversation item (model) as a wire dict."""
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return dict(item)


RATE_LIMITS = [
    # Nothing is rate limited here; the event is sent because clients expect
    # it after each response. Nominal values that never run out.
    {"name": "requests", "limit": 1_000_000, "remaining": 1_000_000, "reset_seconds": 0.0},
    {"name": "tokens", "limit": 1_000_000_000, "remaining": 1_000_000_000, "reset_seconds": 0.0},
]
