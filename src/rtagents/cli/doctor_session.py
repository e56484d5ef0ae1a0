"""The session half of ``doctor connect``: ``session.created``, then one text turn.

Shared by the WebSocket and the WebRTC check: both end in a transport that
carries events, and from there a working server behaves the same. The turn
asks for text only, out of band (``conversation: "none"``), so it costs a few
tokens and leaves no trace in the conversation.
"""

from __future__ import annotations

from typing import Any, Final

from ..protocol.beta import BETA_CLOSE_CODE, BETA_CLOSE_REASON
from ..protocol.codec import InvalidEvent, UnknownEvent, decode_server_event, encode_event
from ..protocol.errors import Category, classify_error_payload
from ..transports.base import Transport, TransportClosed
from .doctor_steps import StepFailed

TEXT_TURN: Final[dict[str, Any]] = {
    "type": "response.create",
    "event_id": "doctor_text_turn",
    "response": {
        "conversation": "none",
        "output_modalities": ["text"],
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Reply with the single word: ready."}],
            }
        ],
    },
}
_SHOWN_TEXT: Final = 60
_FIXES: Final[dict[Category, str]] = {
    Category.PROTOCOL: "the server refused the request's shape: it may speak another "
    "protocol version (beta?); `rtagents doctor scan` your client code",
    Category.MODEL: "the model or its engine failed: check the model name (?model=), the "
    "server's logs and its quota or engine",
    Category.CONNECTION: "the server ended the session: check its logs and the credential",
    Category.TOOL: "a tool failed on the server's side: check the tool's own logs",
}


async def first_event(transport: Transport) -> Any:
    """The next decoded event; a close or a non-JSON frame fails the step that waits."""
    try:
        raw = await transport.recv()
    except TransportClosed as closed:
        raise _closed_failure(closed) from closed
    event = decode_server_event(raw)
    if isinstance(event, InvalidEvent) and event.type is None:
        raise StepFailed(
            f"the server sent a frame that is not a Realtime event: {str(raw)[:_SHOWN_TEXT]!r}",
            "point the URL at a Realtime server (…/v1/realtime)",
            category=Category.PROTOCOL,
        )
    return event


async def check_session_created(transport: Transport) -> str:
    event = await first_event(transport)
    etype = _type(event)
    if etype == "error":
        raise _error_failure(event)
    if etype != "session.created":
        raise StepFailed(
            f"the first event was {etype!r}, not 'session.created'",
            "the server does not open sessions the GA way; is it a GA Realtime server?",
            category=Category.PROTOCOL,
        )
    session = getattr(event, "session", None)
    model = getattr(session, "model", None)
    kind = getattr(session, "type", None)
    return f"session.created: {kind or 'realtime'} session, model {model or 'unknown'}"


async def check_text_turn(transport: Transport) -> str:
    """``response.create`` with text output, read until ``response.done``."""
    try:
        await transport.send(encode_event(TEXT_TURN))
    except TransportClosed as closed:
        raise _closed_failure(closed) from closed
    text: list[str] = []
    while True:
        event = await first_event(transport)
        etype = _type(event)
        if etype == "error":
            raise _error_failure(event)
        if etype == "response.output_text.delta":
            text.append(str(getattr(event, "delta", "")))
        if etype == "response.done":
            return _done(event, "".join(text))


def _done(event: Any, text: str) -> str:
    response = getattr(event, "response", None)
    status = getattr(response, "status", None)
    if status == "completed":
        shown = text if len(text) <= _SHOWN_TEXT else text[:_SHOWN_TEXT] + "…"
        return f"response.done completed with text {shown!r}"
    details = getattr(response, "status_details", None)
    error = getattr(details, "error", None)
    reason = getattr(error, "message", None) or getattr(details, "reason", None) or "no reason"
    raise StepFailed(
        f"response.done with status {status!r}: {reason}",
        _FIXES[Category.MODEL],
        category=Category.MODEL,
    )


def _type(event: Any) -> str | None:
    if isinstance(event, UnknownEvent | InvalidEvent):
        return event.type
    etype = getattr(event, "type", None)
    return etype if isinstance(etype, str) else None


def _error_failure(event: Any) -> StepFailed:
    error = getattr(event, "error", None)
    code = getattr(error, "code", None)
    category = classify_error_payload(getattr(error, "type", None), code)
    message = getattr(error, "message", None) or "no message"
    param = getattr(error, "param", None)
    where = f" (param {param})" if param else ""
    return StepFailed(f"error [{code}] {message}{where}", _FIXES[category], category=category)


def _closed_failure(closed: TransportClosed) -> StepFailed:
    detail = f"the server closed the session: {closed.message}"
    if closed.close_code == BETA_CLOSE_CODE or BETA_CLOSE_REASON in closed.reason:
        return StepFailed(
            detail,
            "the server refused beta shapes: migrate the client to GA "
            "(`rtagents doctor scan` lists each place)",
            category=Category.PROTOCOL,
        )
    return StepFailed(detail, _FIXES[Category.CONNECTION], category=Category.CONNECTION)
