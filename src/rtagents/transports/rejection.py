"""What an HTTP error answer says: the server's code, message and field, and whose fault.

A WebSocket handshake and a client-secret request are both refused the same
way, with an OpenAI-style ``{"error": {"code", "message", "param"}}`` body (or
plain text from a proxy). Reading it in one place keeps both errors alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocol.errors import Origin
from ..protocol.json_depth import parse_untrusted

# Codes for statuses whose body gave none, named like the hosted API's own.
_STATUS_CODES = {401: "invalid_api_key", 403: "forbidden", 404: "not_found"}
_TEXT_LIMIT = 300


@dataclass(frozen=True, slots=True)
class HttpRejection:
    """An HTTP error answer, classified."""

    status: int
    code: str
    detail: str | None
    """The server's own message, else the start of the body's text."""
    param: str | None
    origin: Origin


def read_rejection(status: int, body: bytes | bytearray | None) -> HttpRejection:
    """Classify an HTTP ``status`` answered with ``body``.

    A 4xx (bar 429) means our request was wrong (key, URL, model): LOCAL; a
    429 or 5xx happened on the server's side: REMOTE.
    """
    error = _error_object(body)
    code, message, param = (_text(error, key) for key in ("code", "message", "param"))
    if isinstance(error, str):
        message = error
    text = (body or b"")[:_TEXT_LIMIT].decode("utf-8", "replace").strip() or None
    origin = Origin.LOCAL if 400 <= status < 500 and status != 429 else Origin.REMOTE
    return HttpRejection(
        status=status,
        code=code or _STATUS_CODES.get(status, f"http_{status}"),
        detail=message or text,
        param=param,
        origin=origin,
    )


def _error_object(body: bytes | bytearray | None) -> Any:
    if not body:
        return None
    try:
        data: Any = parse_untrusted(body)
    except ValueError:
        return None
    return data.get("error") if isinstance(data, dict) else None


def _text(error: Any, key: str) -> str | None:
    value = error.get(key) if isinstance(error, dict) else None
    return value if isinstance(value, str) else None
