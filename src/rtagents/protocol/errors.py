"""The error taxonomy every layer of rtagents speaks.

Each error answers two questions in its log line: *which part failed*
(``category``: connection, protocol, model or tool) and *whose fault it is*
(``origin``: ``local`` means this process did something wrong, ``remote`` means
the peer did). That split is what stops people tuning prompts to fix a
transport bug: a ``connection`` error is never the model's doing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class Category(StrEnum):
    """Which part of the system failed."""

    CONNECTION = "connection"
    PROTOCOL = "protocol"
    MODEL = "model"
    TOOL = "tool"


class Origin(StrEnum):
    """Whose fault it is, seen from the process that raises."""

    LOCAL = "local"
    REMOTE = "remote"


class RealtimeError(Exception):
    """Base of every error rtagents raises or surfaces.

    ``code``, ``param`` and ``event_id`` mirror the fields of the wire ``error``
    event so that an error received from a server and one raised locally read
    the same in logs.
    """

    category: ClassVar[Category]

    def __init__(
        self,
        message: str,
        *,
        origin: Origin,
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.origin = origin
        self.code = code
        self.param = param
        self.event_id = event_id

    def to_dict(self) -> dict[str, Any]:
        """Fields for structured logs and for the wire ``error`` payload."""
        return {
            "category": str(self.category),
            "origin": str(self.origin),
            "code": self.code,
            "param": self.param,
            "event_id": self.event_id,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f" (param {self.param})" if self.param else ""
        code = f"[{self.code}] " if self.code else ""
        return f"{self.category}/{self.origin}: {code}{self.message}{where}"


class ConnectionFailure(RealtimeError):
    """Transport-level failure: refused, dropped, timed out, closed, auth."""

    category = Category.CONNECTION


class ProtocolError(RealtimeError):
    """An event that breaks the wire contract (schema, state, ordering)."""

    category = Category.PROTOCOL


class LocalProtocolError(ProtocolError):
    """We were about to send, or do, something the protocol forbids."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, origin=Origin.LOCAL, **kwargs)


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, origin=Origin.REMOTE, **kwargs)


class ModelError(RealtimeError):
    """The model (engine) failed: load, generation, rate limits, server error."""

    category = Category.MODEL


class ToolError(RealtimeError):
    """A tool call failed: unknown tool, bad arguments, timeout, exception."""

    category = Category.TOOL


_CATEGORY_CLASS: dict[Category, type[RealtimeError]] = {
    Category.CONNECTION: ConnectionFailure,
    Category.PROTOCOL: ProtocolError,
    Category.MODEL: ModelError,
    Category.TOOL: ToolError,
}

# Codes the hosted API (and our server) put in ``error.code`` that are not
# about the request's shape. Anything else of type ``invalid_request_error``
# is a protocol error on the sender's side.
_MODEL_CODES = frozenset({"rate_limit_exceeded", "model_not_found", "engine_failure"})
_CONNECTION_CODES = frozenset(
    {
        "session_expired",
        "invalid_api_key",
        "invalid_client_secret",
        "session_closed",
        "webrtc_connection_failed",  # ICE/DTLS failed under a WebRTC call (docs/webrtc.md)
        # A relay's upstream (docs/relay.md): lost mid-response, being rebuilt, unreachable.
        "upstream_connection_lost",
        "upstream_reconnecting",
        "upstream_unavailable",
    }
)
_TOOL_CODES = frozenset({"tool_timeout", "tool_failed", "unknown_tool"})
_SERVER_SIDE_TYPES = frozenset({"server_error", "api_error", "model_error"})


def classify_error_payload(error_type: str | None, code: str | None) -> Category:
    """Category of a wire ``error`` event, from its ``type`` and ``code``."""
    if code in _CONNECTION_CODES:
        return Category.CONNECTION
    if code in _TOOL_CODES:
        return Category.TOOL
    if code in _MODEL_CODES or error_type in _SERVER_SIDE_TYPES:
        return Category.MODEL
    return Category.PROTOCOL


def error_from_payload(
    *,
    error_type: str | None,
    code: str | None,
    message: str,
    param: str | None = None,
    event_id: str | None = None,
) -> RealtimeError:
    """Build the classified exception for an ``error`` event a server sent.

    An ``invalid_request_error`` means *we* (the client) sent something wrong,
    so its origin is local; everything else happened on the server's side.
    """
    category = classify_error_payload(error_type, code)
    origin = Origin.LOCAL if error_type == "invalid_request_error" else Origin.REMOTE
    cls = _CATEGORY_CLASS[category]
    if cls is ProtocolError:
        cls = LocalProtocolError if origin is Origin.LOCAL else RemoteProtocolError
        return cls(message, code=code, param=param, event_id=event_id)
    return cls(message, origin=origin, code=code, param=param, event_id=event_id)
