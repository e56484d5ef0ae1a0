"""The error taxonomy: categories, origins, wire payloads."""

from __future__ import annotations

import pytest

from rtagents.protocol.errors import (
    Category,
    ConnectionFailure,
    LocalProtocolError,
    ModelError,
    Origin,
    RealtimeError,
    RemoteProtocolError,
    ToolError,
    classify_error_payload,
    error_from_payload,
)


def test_to_dict_and_str() -> None:
    error = RemoteProtocolError(
        "bad field", code="invalid_value", param="session.voice", event_id="e1"
    )
    assert error.to_dict() == {
        "category": "protocol",
        "origin": "remote",
        "code": "invalid_value",
        "param": "session.voice",
        "event_id": "e1",
        "message": "bad field",
    }
    assert str(error) == "protocol/remote: [invalid_value] bad field (param session.voice)"
    assert str(LocalProtocolError("oops")) == "protocol/local: oops"


@pytest.mark.parametrize(
    ("error_type", "code", "category"),
    [
        ("invalid_request_error", "invalid_value", Category.PROTOCOL),
        ("invalid_request_error", "session_expired", Category.CONNECTION),
        ("invalid_request_error", "tool_timeout", Category.TOOL),
        (None, "rate_limit_exceeded", Category.MODEL),
        ("server_error", None, Category.MODEL),
        (None, None, Category.PROTOCOL),
    ],
)
def test_classify_error_payload(
    error_type: str | None, code: str | None, category: Category
) -> None:
    assert classify_error_payload(error_type, code) is category


@pytest.mark.parametrize(
    ("error_type", "code", "cls", "origin"),
    [
        ("invalid_request_error", "invalid_value", LocalProtocolError, Origin.LOCAL),
        ("weird_error", "invalid_value", RemoteProtocolError, Origin.REMOTE),
        ("invalid_request_error", "invalid_api_key", ConnectionFailure, Origin.LOCAL),
        ("server_error", "engine_failure", ModelError, Origin.REMOTE),
        (None, "unknown_tool", ToolError, Origin.REMOTE),
    ],
)
def test_error_from_payload(
    error_type: str | None, code: str, cls: type[RealtimeError], origin: Origin
) -> None:
    error = error_from_payload(
        error_type=error_type, code=code, message="m", param="p", event_id="e"
    )
    assert type(error) is cls and error.origin is origin
    assert (error.code, error.param, error.event_id, error.message) == (code, "p", "e", "m")
