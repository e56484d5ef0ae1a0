"""Client event type -> handler, plus the answers for events no handler takes.

Handlers are ``async def handler(host, event)`` functions; a refusal is a
raised :class:`RealtimeError` (code, param, message) that the host turns into
an ``error`` event carrying the client's ``event_id``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..protocol.beta import BETA_CLIENT_EVENT_TYPES
from ..protocol.codec import (
    InvalidEvent,
    UnknownEvent,
    decode_client_event,
    encode_event,
    known_types,
)
from ..protocol.errors import RemoteProtocolError
from . import handlers_audio, handlers_items, handlers_response, handlers_session
from .items import item_dict

if TYPE_CHECKING:
    from .session import SessionHost

Handler = Callable[["SessionHost", Any], Awaitable[None]]

HANDLERS: Mapping[str, Handler] = {
    "session.update": handlers_session.session_update,
    "input_audio_buffer.append": handlers_audio.append,
    "input_audio_buffer.commit": handlers_audio.commit,
    "input_audio_buffer.clear": handlers_audio.clear,
    "output_audio_buffer.clear": handlers_audio.clear_output,
    "conversation.item.create": handlers_items.create,
    "conversation.item.retrieve": handlers_items.retrieve,
    "conversation.item.truncate": handlers_items.truncate,
    "conversation.item.delete": handlers_items.delete,
    "response.create": handlers_response.create,
    "response.cancel": handlers_response.cancel,
}


def describe_unknown(event: UnknownEvent) -> RemoteProtocolError:
    """The refusal for an event type GA does not have (beta ones get their GA name)."""
    beta = BETA_CLIENT_EVENT_TYPES.get(event.type)
    if beta is not None:
        message = f"'{event.type}' is a retired beta event; {beta}."
    else:
        message = (
            f"Unknown event type '{event.type}'. Valid client events are: "
            + ", ".join(sorted(known_types("client")))
            + "."
        )
    return RemoteProtocolError(message, code="invalid_value", param="type", event_id=event.event_id)


def resolve_references(host: SessionHost, event: InvalidEvent) -> Any:
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
        found = host.conversation.get(str(entry.get("id")))
        if found is None:
            error = RemoteProtocolError(
                f"response.input[{index}] references item '{entry.get('id')}', which is not "
                "in the conversation.",
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
