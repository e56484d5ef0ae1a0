"""Reading an HTTP error answer: the server's own words first, then the status."""

from __future__ import annotations

import json

import pytest

from rtagents.protocol.errors import Origin
from rtagents.transports.rejection import read_rejection


def test_an_openai_style_body_gives_code_message_and_param() -> None:
    body = json.dumps(
        {"error": {"code": "invalid_value", "message": "bad ttl", "param": "expires_after"}}
    ).encode()
    rejection = read_rejection(400, body)
    assert (rejection.code, rejection.detail, rejection.param) == (
        "invalid_value",
        "bad ttl",
        "expires_after",
    )
    assert rejection.origin is Origin.LOCAL


@pytest.mark.parametrize(
    ("status", "body", "code", "detail", "origin"),
    [
        (401, b"", "invalid_api_key", None, Origin.LOCAL),
        (403, b'{"error": "nope"}', "forbidden", "nope", Origin.LOCAL),
        (404, b'{"error": {"code": 7}}', "not_found", '{"error": {"code": 7}}', Origin.LOCAL),
        (429, b"slow down", "http_429", "slow down", Origin.REMOTE),
        (503, b"[1, 2]", "http_503", "[1, 2]", Origin.REMOTE),
        (502, None, "http_502", None, Origin.REMOTE),
    ],
)
def test_without_a_usable_error_object_the_status_and_text_speak(
    status: int, body: bytes | None, code: str, detail: str | None, origin: Origin
) -> None:
    rejection = read_rejection(status, body)
    assert (rejection.code, rejection.detail, rejection.param) == (code, detail, None)
    assert rejection.origin is origin


def test_long_text_bodies_are_cut() -> None:
    detail = read_rejection(500, b"x" * 1000).detail
    assert detail is not None and len(detail) == 300
