"""``conversation.item.create`` / ``retrieve`` / ``truncate`` / ``delete``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from openai.types.realtime import (
    ConversationItemAdded,
    ConversationItemCreateEvent,
    ConversationItemDeletedEvent,
    ConversationItemDeleteEvent,
    ConversationItemDone,
    ConversationItemRetrieveEvent,
    ConversationItemTruncatedEvent,
    ConversationItemTruncateEvent,
)
from openai.types.realtime.realtime_server_event import ConversationItemRetrieved
from pydantic import BaseModel

from ..protocol.audio import b64encode_audio, pcm16_to_wire
from ..protocol.errors import RemoteProtocolError
from ..protocol.ordering import ROOT
from . import ids
from .handlers_audio import decode_input_audio, start_transcription
from .input_audio import INTERNAL_RATE
from .items import build, item_dict, normalized_item

if TYPE_CHECKING:
    from .session import SessionHost


def _missing(item_id: str, param: str = "item_id") -> RemoteProtocolError:
    return RemoteProtocolError(
        f"Item '{item_id}' does not exist in the conversation.", code="item_not_found", param=param
    )


async def create(host: SessionHost, event: ConversationItemCreateEvent) -> None:
    requested = getattr(event.item, "id", None)
    if requested == ROOT:
        raise RemoteProtocolError(
            f"An item may not have the id '{ROOT}': it means 'the start of the conversation' "
            "in previous_item_id. Choose another id, or leave 'id' out to let the server "
            "choose one.",
            code="invalid_value",
            param="item.id",
        )
    if requested and requested in host.conversation:
        raise RemoteProtocolError(
            f"An item with id '{requested}' already exists in the conversation; leave 'id' out "
            "to let the server choose one.",
            code="duplicate_item_id",
            param="item.id",
        )
    previous = event.previous_item_id
    if previous is not None and previous != "root" and previous not in host.conversation:
        raise _missing(previous, "previous_item_id")
    item_id = requested or ids.item_id()
    audio = _input_audio(host, event.item)
    data = normalized_item(event.item, item_id)

    def events() -> list[BaseModel]:
        after = _previous_for(host, previous)
        return [
            build(ConversationItemAdded, previous_item_id=after, item=data),
            build(ConversationItemDone, previous_item_id=after, item=data),
        ]

    await host.emit_all(events)
    if audio:
        host.input.keep(item_id, audio)
        if not _has_transcript(data):
            start_transcription(host, item_id, audio)


def _previous_for(host: SessionHost, previous: str | None) -> str | None:
    """The ``previous_item_id`` to announce: the item before, ``"root"``, or None."""
    if previous is None:
        return host.conversation.last_item_id
    if previous == "root":
        return "root" if len(host.conversation) else None
    return previous


def _input_audio(host: SessionHost, item: Any) -> bytes:
    """Audio a client put inside a user item's ``input_audio`` parts (pcm16, 24 kHz)."""
    pcm = b""
    for index, part in enumerate(getattr(item, "content", None) or []):
        if getattr(part, "type", None) == "input_audio" and getattr(part, "audio", None):
            pcm += decode_input_audio(host, part.audio, param=f"item.content[{index}].audio")
    return pcm


def _has_transcript(data: dict[str, Any]) -> bool:
    return any(p.get("transcript") for p in data.get("content") or [])


async def retrieve(host: SessionHost, event: ConversationItemRetrieveEvent) -> None:
    found = host.conversation.get(event.item_id)
    if found is None:
        raise _missing(event.item_id)
    data = item_dict(found)
    audio = host.input.audio(event.item_id)
    if audio:
        # The hosted API returns the item's audio here (and only here).
        wire = pcm16_to_wire(audio, INTERNAL_RATE, host.config.input_format)
        for part in data.get("content") or []:
            if part.get("type") == "input_audio":
                part["audio"] = b64encode_audio(wire)
                break
    await host.emit(build(ConversationItemRetrieved, item=data))


async def truncate(host: SessionHost, event: ConversationItemTruncateEvent) -> None:
    found = host.conversation.get(event.item_id)
    if found is None:
        raise _missing(event.item_id)
    data = item_dict(found)
    if data.get("type") != "message" or data.get("role") != "assistant":
        kind = f"{data.get('role', '')} {data.get('type')}".strip()
        raise RemoteProtocolError(
            f"Only assistant messages with audio can be truncated; '{event.item_id}' is a "
            f"{kind} item.",
            code="invalid_value",
            param="item_id",
        )
    content = data.get("content") or []
    index = event.content_index
    if not 0 <= index < len(content) or content[index].get("type") != "output_audio":
        raise RemoteProtocolError(
            f"Item '{event.item_id}' has no output audio at content_index {index}.",
            code="invalid_value",
            param="content_index",
        )
    produced = host.conversation.audio_ms(event.item_id)
    if not 0 <= event.audio_end_ms <= math.ceil(produced):
        raise RemoteProtocolError(
            f"audio_end_ms {event.audio_end_ms} is outside the audio produced for item "
            f"'{event.item_id}', which is {produced:.0f} ms long. Send the playback position "
            "the user actually heard (0 to the produced length).",
            code="invalid_value",
            param="audio_end_ms",
        )
    await host.emit(
        build(
            ConversationItemTruncatedEvent,
            item_id=event.item_id,
            content_index=index,
            audio_end_ms=event.audio_end_ms,
        )
    )


async def delete(host: SessionHost, event: ConversationItemDeleteEvent) -> None:
    if event.item_id not in host.conversation:
        raise _missing(event.item_id)
    await host.emit(build(ConversationItemDeletedEvent, item_id=event.item_id))
    host.input.forget(event.item_id)
