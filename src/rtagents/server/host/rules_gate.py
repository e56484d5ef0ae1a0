"""Asking the protocol rules (protocol/server_rules.py) before a backend sees an event.

The host knows whether the session is closing (then every event, even one the
codec could not read, gets ``session_closed``); the backend knows the rest
(:meth:`Backend.facts`). Other events the codec could not read are refused by
the host itself.
"""

from __future__ import annotations

from typing import Any, Final

from ...protocol.codec import InvalidEvent, UnknownEvent
from ...protocol.errors import RemoteProtocolError
from ...protocol.server_rules import Facts, Refuse, Request, decide
from ..policy.event_gate import PolicyGate
from .backend import Backend


def refusal_for(
    event: Any, *, closing: bool, backend: Backend, policy: PolicyGate | None = None
) -> RemoteProtocolError | None:
    """The error to answer ``event`` with, or None to hand it to the backend.

    The gateway policy (``policy``) is asked only about events the rules accept.
    """
    event_id = getattr(event, "event_id", None)
    if closing:
        outcome = decide(_CLOSING, Request(type=str(getattr(event, "type", ""))))
    elif isinstance(event, InvalidEvent | UnknownEvent):
        return None
    else:
        outcome = decide(backend.facts(), Request.from_event(event))
    if isinstance(outcome, Refuse):
        return outcome.to_error(event_id)
    return policy.refusal(event) if policy is not None else None


_CLOSING: Final = Facts(closing=True)
