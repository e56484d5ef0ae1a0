"""The client's half of the rtagents resume protocol (``docs/reliability.md``).

Opt-in and invisible elsewhere: the client asks with one handshake header; a
server that answers without the resume headers (OpenAI's, or an rtagents
server with resume disabled) simply gets no resume attempts, and a lost
session is rebuilt instead. Only handshake headers are involved: the frames
stay stock GA, counted on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

OPT_IN: Final = "X-Rtagents-Resume"
SESSION_ID: Final = "X-Rtagents-Session-Id"
TOKEN: Final = "X-Rtagents-Resume-Token"
GRACE: Final = "X-Rtagents-Resume-Grace"
LAST_SEQ: Final = "X-Rtagents-Last-Seq"
RECEIVED: Final = "X-Rtagents-Received"


@dataclass(frozen=True, slots=True)
class ResumeTicket:
    """What a server that supports resume handed out when it accepted the session."""

    session_id: str
    token: str
    grace_s: float


def response_headers(transport: object) -> Mapping[str, str]:
    """The handshake answer's headers (lower-case), if the transport exposes them."""
    headers = getattr(transport, "response_headers", None)
    return headers if isinstance(headers, Mapping) else {}


def read_ticket(headers: Mapping[str, str]) -> ResumeTicket | None:
    """The resume ticket in an accepted handshake, or None if the server gave none."""
    token = headers.get(TOKEN.lower())
    session_id = headers.get(SESSION_ID.lower())
    if not token or not session_id:
        return None
    try:
        grace = float(headers.get(GRACE.lower(), "0"))
    except ValueError:
        grace = 0.0
    if not grace > 0:  # also NaN
        return None  # a server with a zero grace window cannot resume anything
    return ResumeTicket(session_id=session_id, token=token, grace_s=grace)


def read_received(headers: Mapping[str, str]) -> int | None:
    """``X-Rtagents-Received`` of a resumed handshake; None if absent or unreadable."""
    value = headers.get(RECEIVED.lower())
    if value is None:
        return None
    try:
        received = int(value)
    except ValueError:
        return None
    return received if received >= 0 else None


def opt_in_headers() -> dict[str, str]:
    return {OPT_IN: "1"}


def resume_headers(ticket: ResumeTicket, last_seq: int) -> dict[str, str]:
    return {TOKEN: ticket.token, LAST_SEQ: str(last_seq)}
