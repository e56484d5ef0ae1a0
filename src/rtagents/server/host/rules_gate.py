"""Asking the protocol rules (protocol/server_rules.py) before a backend sees an event.

The host knows whether the session is closing and which items the
conversation holds; the backend knows the rest (:meth:`Backend.facts`).
Events the codec could not read are refused by the host itself, except while
closing, when every event gets ``session_closed``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ...protocol.codec import InvalidEvent, UnknownEvent
from ...protocol.conversation import Conversation
from ...protocol.errors import RemoteProtocolError
from ...protocol.server_rules import Facts, Refuse, Request, decide
from .backend import Backend


def refusal_for(
    event: Any, *, closing: bool, backend: Backend, conversation: Conversation
) -> RemoteProtocolError | None:
    """The error to answer ``event`` with, or None to hand it to the backend."""
    event_id = getattr(event, "event_id", None)
    if isinstance(event, InvalidEvent | UnknownEvent):
        if not closing:
            return None
        outcome = decide(Facts(closing=True), Request(type=""))
    else:
        facts = dataclasses.replace(backend.facts(), closing=closing, items=conversation)
        outcome = decide(facts, Request.from_event(event))
    return outcome.to_error(event_id) if isinstance(outcome, Refuse) else None
