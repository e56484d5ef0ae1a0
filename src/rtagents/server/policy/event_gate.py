"""The policy as the session host applies it to client events, whatever backend answers.

The host asks :meth:`PolicyGate.refusal` after the protocol rules accepted an
event, and hands the backend :meth:`PolicyGate.forced` of it, so a local
pipeline and a relay alike only ever see what the policy allows, with the
forced fields in place (and ``session.updated`` shows them). Only
``session.update`` and ``response.create`` are looked at; with a policy that
screens nothing the gate costs one attribute read per event.
"""

from __future__ import annotations

from typing import Any, Final

from ...protocol.errors import RemoteProtocolError
from .forcing import forced_response, forced_session
from .screening import fields_refusal
from .table import Policy

_SCREENED: Final = frozenset({"session.update", "response.create"})


class PolicyGate:
    """One session's view of the server's policy."""

    def __init__(self, policy: Policy, *, quote_chars: int = 200) -> None:
        self.policy = policy
        self.active = policy.screens_events
        self._quote_chars = quote_chars

    def refusal(self, event: Any) -> RemoteProtocolError | None:
        """The error to answer ``event`` with when the policy refuses it, else None."""
        if not self.active or getattr(event, "type", None) not in _SCREENED:
            return None
        part, fields = _set_fields(event)
        error = fields_refusal(self.policy, fields, part, quote_chars=self._quote_chars)
        if error is not None:
            error.event_id = getattr(event, "event_id", None)
        return error

    def forced(self, event: Any) -> Any:
        """``event`` as the backend gets it: the policy's forced fields laid over it."""
        if not self.active or getattr(event, "type", None) not in _SCREENED:
            return event
        part, fields = _set_fields(event)
        if part == "session":
            changed = forced_session(self.policy, fields)
        else:
            changed = forced_response(self.policy, fields)
        if changed == fields:
            return event
        model = getattr(event, part)  # set: an unset part has no fields to force
        return event.model_copy(update={part: type(model).model_validate(changed)})


def _set_fields(event: Any) -> tuple[str, dict[str, Any]]:
    """Which part the event carries and the fields the client set in it."""
    part = "session" if event.type == "session.update" else "response"
    model = getattr(event, part, None)
    if model is None:
        return part, {}
    fields: dict[str, Any] = model.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return part, fields
