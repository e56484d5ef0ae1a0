"""Building outgoing events from the ``openai`` models: build(), error events, item dicts.

Every outgoing event is constructed as its ``openai.types.realtime`` model, so
a field the schema does not allow fails here, in the server, instead of in a
client. :func:`build` fills in the ``type`` literal and a fresh ``event_id``.
Items are plain wire dicts until an event carries them (the event validates
them); the items a backend creates are built in its own package.
"""

from __future__ import annotations

import typing
from functools import cache
from typing import Any, TypeVar

from openai.types.realtime import RealtimeErrorEvent
from pydantic import BaseModel

from ...protocol.errors import RealtimeError
from .. import ids

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


def item_dict(item: Any) -> dict[str, Any]:
    """A stored conversation item (model) as a wire dict."""
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return dict(item)
