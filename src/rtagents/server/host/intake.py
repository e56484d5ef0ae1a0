"""Turning a client frame into an event or a refusal, before any rule or backend sees it.

Binary frames, frames over the size limit, events that do not validate,
unknown and retired beta types are answered here with a specific error; a
``response.create`` whose ``input`` holds item references is made whole from
the conversation first (the ``openai`` models cannot represent references).
A refusal quotes what the client sent escaped and cut to ``quote_chars``
(limits.quoted_chars): a 1 MB ``type`` gets a short error, not a 1 MB echo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...protocol.beta import BETA_CLIENT_EVENT_TYPES
from ...protocol.client_text import quoted
from ...protocol.codec import (
    InvalidEvent,
    UnknownEvent,
    decode_client_event,
    encode_event,
    known_types,
)
from ...protocol.conversation import Conversation
from ...protocol.errors import RemoteProtocolError
from .wire_events import item_dict

QUOTE_CHARS = 200


def read_frame(
    message: str | bytes,
    max_size: int,
    conversation: Conversation,
    *,
    quote_chars: int = QUOTE_CHARS,
) -> Any:
    """The decoded event, an :class:`InvalidEvent`/:class:`UnknownEvent`, or a refusal.

    A refusal (binary or oversized frame) is returned as a
    :class:`RemoteProtocolError`: nothing of the frame was read.
    """
    if isinstance(message, bytes):
        return RemoteProtocolError(
            "Binary frames are not part of the Realtime protocol; send each event as "
            "a JSON text frame (audio goes base64-encoded in input_audio_buffer.append).",
            code="invalid_event",
        )
    if len(message) > max_size:
        return RemoteProtocolError(
            f"The message is {len(message)} bytes; the limit is "
            f"{max_size}. Split audio into several appends.",
            code="message_too_large",
        )
    event = decode_client_event(message)
    if isinstance(event, InvalidEvent):
        event = resolve_references(conversation, event, quote_chars=quote_chars)
    return event


def describe_unknown(event: UnknownEvent, *, quote_chars: int = QUOTE_CHARS) -> RemoteProtocolError:
    """The refusal for an event type GA does not have (beta ones get their GA name)."""
    beta = BETA_CLIENT_EVENT_TYPES.get(event.type)
    if beta is not None:
        message = f"'{event.type}' is a retired beta event; {beta}."
    else:
        message = (
            f"Unknown event type {quoted(event.type, quote_chars)}. Valid client events are: "
            + ", ".join(sorted(known_types("client")))
            + "."
        )
    return RemoteProtocolError(message, code="invalid_value", param="type", event_id=event.event_id)


def resolve_references(
    conversation: Conversation, event: InvalidEvent, *, quote_chars: int = QUOTE_CHARS
) -> Any:
    """A ``response.create`` whose ``input`` holds ``item_reference``\\ s, made whole.

    The ``openai`` models have no item reference inside ``response.input``
    although the API accepts them, so such an event fails validation. Each
    reference is replaced by the conversation item it names and the event is
    decoded again; anything else is returned unchanged.
    """
    data = event.data
    if event.type != "response.create" or not isinstance(data, Mapping):
        return event
    response = data.get("response")
    items = response.get("input") if isinstance(response, Mapping) else None
    if not isinstance(items, list) or not any(_is_reference(i) for i in items):
        return event
    assert isinstance(response, Mapping)
    resolved = []
    for index, entry in enumerate(items):
        if not _is_reference(entry):
            resolved.append(entry)
            continue
        found = conversation.get(str(entry.get("id")))
        if found is None:
            error = RemoteProtocolError(
                f"response.input[{index}] references item "
                f"{quoted(str(entry.get('id')), quote_chars)}, which is not in the conversation.",
                code="item_not_found",
                param=f"response.input[{index}].id",
                event_id=event.event_id,
            )
            return InvalidEvent(
                type=event.type, event_id=event.event_id, data=data, raw=event.raw, error=error
            )
        resolved.append(item_dict(found))
    whole = {**data, "response": {**response, "input": resolved}}
    return decode_client_event(encode_event(whole))


def _is_reference(entry: Any) -> bool:
    return isinstance(entry, Mapping) and entry.get("type") == "item_reference"
