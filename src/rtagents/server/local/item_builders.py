"""The items the local pipeline creates, as wire dicts (they never hold audio bytes).

Items are plain dicts until an event carries them (the event validates them),
as on the hosted API, which never sends audio inside an item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


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
