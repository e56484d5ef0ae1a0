"""The local pipeline's dispatch table: client event type -> the operation that answers it.

Every entry is a bound method of the part that owns the state it changes;
a refusal is a raised :class:`RealtimeError` (code, param, message), which
the host turns into an ``error`` event carrying the client's ``event_id``.
The protocol rules (protocol/server_rules.py) were checked before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .audio_in import AudioIn
from .item_edits import ItemEdits
from .responder import Responder

Handler = Callable[[Any], Awaitable[None]]


def dispatch_table(
    *,
    session_update: Handler,
    clear_output: Handler,
    audio: AudioIn,
    items: ItemEdits,
    responses: Responder,
) -> Mapping[str, Handler]:
    """The handler of every GA client event type."""
    return {
        "session.update": session_update,
        "input_audio_buffer.append": audio.append,
        "input_audio_buffer.commit": audio.commit,
        "input_audio_buffer.clear": audio.clear,
        "output_audio_buffer.clear": clear_output,
        "conversation.item.create": items.create,
        "conversation.item.retrieve": items.retrieve,
        "conversation.item.truncate": items.truncate,
        "conversation.item.delete": items.delete,
        "response.create": responses.create,
        "response.cancel": responses.cancel,
    }
