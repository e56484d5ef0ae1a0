"""``conversation.item.create`` / ``retrieve`` / ``truncate`` / ``delete`` of the local pipeline."""

from __future__ import annotations

import math
from collections.abc import Callable
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

from ...protocol.audio import PCM_RATE, b64encode_audio, pcm16_to_wire
from ...protocol.client_text import quoted
from ...protocol.errors import RemoteProtocolError
from ...protocol.server_facts import item_text_bytes
from .. import ids
from ..host.wire_events import build, item_dict
from ..mcp.approvals import check_approval_response
from .item_builders import normalized_item
from .transcription import start_transcription

if TYPE_CHECKING:
    from .session_context import SessionContext


# Reads base64 audio in the session's input format as pcm16 (AudioIn.decode).
Decode = Callable[..., bytes]


class ItemEdits:
    """The conversation.item.* events of one session (existence and ids: the rules table)."""

    def __init__(self, ctx: SessionContext, decode: Decode) -> None:
        self.ctx = ctx
        self._decode = decode

    async def create(self, event: ConversationItemCreateEvent) -> None:
        requested = getattr(event.item, "id", None)
        previous = event.previous_item_id  # its existence and the id: the rules table
        item_id = requested or ids.item_id()
        check_approval_response(self.ctx.conversation, event.item)  # answers a pending request?
        audio = self._input_audio(event.item)
        data = normalized_item(event.item, item_id)

        def events() -> list[BaseModel]:
            after = self._previous_for(previous)
            return [
                build(ConversationItemAdded, previous_item_id=after, item=data),
                build(ConversationItemDone, previous_item_id=after, item=data),
            ]

        await self.ctx.emit_all(events)
        self.ctx.input.note_item(item_id, item_text_bytes(event.item))  # the memory budget's
        if audio:
            self.ctx.input.keep(item_id, audio)
            if not _has_transcript(data):
                start_transcription(self.ctx, item_id, audio)

    def _previous_for(self, previous: str | None) -> str | None:
        """The ``previous_item_id`` to announce: the item before, ``"root"``, or None."""
        if previous is None:
            return self.ctx.conversation.last_item_id
        if previous == "root":
            return "root" if len(self.ctx.conversation) else None
        return previous

    def _input_audio(self, item: Any) -> bytes:
        """Audio a client put inside a user item's ``input_audio`` parts (pcm16, 24 kHz)."""
        pcm = b""
        for index, part in enumerate(getattr(item, "content", None) or []):
            if getattr(part, "type", None) == "input_audio" and getattr(part, "audio", None):
                pcm += self._decode(part.audio, param=f"item.content[{index}].audio")
        return pcm

    async def retrieve(self, event: ConversationItemRetrieveEvent) -> None:
        data = item_dict(self.ctx.conversation.get(event.item_id))
        audio = self.ctx.input.audio(event.item_id)
        if audio:
            # The hosted API returns the item's audio here (and only here).
            wire = pcm16_to_wire(audio, PCM_RATE, self.ctx.config.input_format)
            for part in data.get("content") or []:
                if part.get("type") == "input_audio":
                    part["audio"] = b64encode_audio(wire)
                    break
        await self.ctx.emit(build(ConversationItemRetrieved, item=data))

    async def truncate(self, event: ConversationItemTruncateEvent) -> None:
        data = item_dict(self.ctx.conversation.get(event.item_id))
        if data.get("type") != "message" or data.get("role") != "assistant":
            kind = f"{data.get('role', '')} {data.get('type')}".strip()
            raise RemoteProtocolError(
                "Only assistant messages with audio can be truncated; "
                f"{quoted(event.item_id)} is a {kind} item.",
                code="invalid_value",
                param="item_id",
            )
        content = data.get("content") or []
        index = event.content_index
        if not 0 <= index < len(content) or content[index].get("type") != "output_audio":
            raise RemoteProtocolError(
                f"Item {quoted(event.item_id)} has no output audio at content_index {index}.",
                code="invalid_value",
                param="content_index",
            )
        produced = self.ctx.conversation.audio_ms(event.item_id)
        if not 0 <= event.audio_end_ms <= math.ceil(produced):
            raise RemoteProtocolError(
                f"audio_end_ms {event.audio_end_ms} is outside the audio produced for item "
                f"{quoted(event.item_id)}, which is {produced:.0f} ms long. Send the playback "
                "position the user actually heard (0 to the produced length).",
                code="invalid_value",
                param="audio_end_ms",
            )
        await self.ctx.emit(
            build(
                ConversationItemTruncatedEvent,
                item_id=event.item_id,
                content_index=index,
                audio_end_ms=event.audio_end_ms,
            )
        )

    async def delete(self, event: ConversationItemDeleteEvent) -> None:
        await self.ctx.emit(build(ConversationItemDeletedEvent, item_id=event.item_id))
        self.ctx.input.forget(event.item_id)


def _has_transcript(data: dict[str, Any]) -> bool:
    return any(p.get("transcript") for p in data.get("content") or [])
