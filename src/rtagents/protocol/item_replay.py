"""What a fresh session needs to continue where a lost one ended, as pure functions.

Servers without resume (OpenAI's, or ours past its grace window) start every
connection empty. Whoever rebuilds a session (the client SDK, or a relay
gateway whose upstream dropped) keeps two things: the config that was asked
for (every ``session.update`` merged, as the server would merge them, less any
the server refused) and the conversation mirror. Replaying the mirror as
``conversation.item.create`` events with the *same item ids* keeps every id
the app holds valid. Audio cannot be re-sent as the model heard it, so user
audio turns go back as their transcripts (``input_text``) and assistant audio
as its (possibly truncated) transcript (``output_text``). They live in the
protocol layer because both the client and the server's relay use them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

log = logging.getLogger("rtagents.protocol.item_replay")

NO_TRANSCRIPT = "[audio without a transcript]"
# Fields a session.update may carry that are fixed at creation on the server.
_NOT_REPLAYED = frozenset({"id", "object", "expires_at", "model"})


def merge_config(base: Mapping[str, Any] | None, update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` laid over ``base``: nested objects merge, everything else replaces."""
    merged: dict[str, Any] = dict(base or {})
    for key, value in update.items():
        old = merged.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            merged[key] = merge_config(old, value)
        else:
            merged[key] = value
    return merged


def replay_config(asked: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``session`` of the ``session.update`` that restores the app's config."""
    if not asked:
        return None
    config = {key: value for key, value in asked.items() if key not in _NOT_REPLAYED}
    config.setdefault("type", "realtime")  # GA session.update requires it
    return config


def _text_part(part: Any, role: str, fallback: str) -> dict[str, Any] | None:
    kind = getattr(part, "type", None)
    text = getattr(part, "text", None)
    transcript = getattr(part, "transcript", None) or fallback
    target = "output_text" if role == "assistant" else "input_text"
    if kind in ("input_text", "output_text", "text"):
        return {"type": target, "text": text or ""}
    if kind in ("input_audio", "output_audio", "audio"):
        return {"type": target, "text": transcript or NO_TRANSCRIPT}
    if kind == "input_image":
        return None  # images are not kept in the mirror: nothing to replay
    return None


def replay_item(item: Any, transcript: str = "") -> dict[str, Any] | None:
    """A ``conversation.item.create`` item that restores ``item``; None if it cannot.

    ``transcript`` (the mirror's transcript of the item) stands in for audio
    parts whose own transcript field is empty.
    """
    kind = getattr(item, "type", None)
    item_id = getattr(item, "id", None)
    if not isinstance(item_id, str):
        return None
    if kind == "message":
        role = getattr(item, "role", None) or "user"
        parts = [_text_part(p, role, transcript) for p in getattr(item, "content", None) or []]
        content = [part for part in parts if part is not None]
        if not content:
            content = [{"type": "output_text" if role == "assistant" else "input_text", "text": ""}]
        return {"id": item_id, "type": "message", "role": role, "content": content}
    if kind == "function_call":
        return {
            "id": item_id,
            "type": "function_call",
            "call_id": getattr(item, "call_id", None) or item_id,
            "name": getattr(item, "name", None) or "unknown",
            "arguments": getattr(item, "arguments", None) or "",
        }
    if kind == "function_call_output":
        return {
            "id": item_id,
            "type": "function_call_output",
            "call_id": getattr(item, "call_id", None) or "",
            "output": getattr(item, "output", None) or "",
        }
    log.warning("cannot replay a %r item (%s) into a rebuilt session; it is skipped", kind, item_id)
    return None


def replay_events(
    items: Iterable[Any], transcript: Callable[[str], str] = lambda _: ""
) -> list[dict[str, Any]]:
    """``conversation.item.create`` events, in order, each after the one before it."""
    events: list[dict[str, Any]] = []
    previous = "root"
    for item in items:
        item_id = getattr(item, "id", None)
        replay = replay_item(item, transcript(item_id) if isinstance(item_id, str) else "")
        if replay is None:
            continue
        events.append(
            {"type": "conversation.item.create", "previous_item_id": previous, "item": replay}
        )
        previous = replay["id"]
    return events
