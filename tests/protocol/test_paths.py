"""Turning pydantic errors into wire ``param`` paths and helpful messages."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.realtime import SessionUpdateEvent
from pydantic import BaseModel, TypeAdapter, ValidationError

from rtagents.protocol.errors import RemoteProtocolError
from rtagents.protocol.paths import (
    describe_validation_error,
    first_error,
    format_path,
    unknown_field_error,
    unknown_field_paths,
)


@pytest.mark.parametrize(
    ("loc", "skip_tag", "expected"),
    [
        (("session.update", "session", "tools", 0, "name"), True, "session.tools[0].name"),
        (
            ("session", "RealtimeSessionCreateRequest", "audio", "input"),
            False,
            "session.audio.input",
        ),
        (("item", "literal['message']", "content", 2), False, "item.content[2]"),
        (("x", "function-after[f]", "y"), False, "x.y"),
        (("x", "tagged-union[A,B]", "y"), False, "x.y"),
        ((), True, ""),
        ((0, 1), False, "[0][1]"),
    ],
)
def test_format_path(loc: tuple[Any, ...], skip_tag: bool, expected: str) -> None:
    assert format_path(loc, skip_tag=skip_tag) == expected


def errors_of(model: type[BaseModel], data: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return info.value


def test_first_error_prefers_the_branch_whose_role_matched() -> None:
    from openai.types.realtime import ConversationItem

    adapter: TypeAdapter[Any] = TypeAdapter(ConversationItem)
    with pytest.raises(ValidationError) as info:
        adapter.validate_python(
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": 1}],
            }
        )
    best = first_error(info.value)
    assert format_path(best["loc"], skip_tag=False) == "content[0].text"


def test_first_error_prefers_a_wrong_value_over_a_type_mismatch() -> None:
    class Inner(BaseModel):
        mode: int

    class Outer(BaseModel):
        a: Inner
        b: int

    best = first_error(errors_of(Outer, {"a": "not an object", "b": "x"}))
    assert best["loc"] == ("b",)


def test_describe_missing_and_invalid() -> None:
    missing = {
        "type": "missing",
        "loc": ("input_audio_buffer.append", "audio"),
        "msg": "Field required",
    }
    code, param, message = describe_validation_error(missing, "input_audio_buffer.append")
    assert (code, param) == ("missing_required_parameter", "audio")
    assert (
        message
        == "Missing required parameter 'audio' in 'input_audio_buffer.append'. Add it and resend."
    )

    wrong = {
        "type": "string_type",
        "loc": ("t",),
        "msg": "Input should be a valid string",
        "input": 7,
    }
    code, param, message = describe_validation_error(wrong, "t")
    assert (code, param) == ("invalid_type", None)
    assert "the event" in message and "(got 7)" in message


def test_describe_shortens_huge_inputs_and_hints_beta_formats() -> None:
    long = {"type": "literal_error", "loc": ("e", "f"), "msg": "bad", "input": "x" * 500}
    _, _, message = describe_validation_error(long, "e")
    assert "..." in message and len(message) < 200
    beta = {"type": "model_type", "loc": ("e", "format"), "msg": "bad", "input": "g711_alaw"}
    _, _, message = describe_validation_error(beta, "e")
    assert '{"type": "audio/pcma"}' in message


def test_unknown_field_paths_walk_models_and_lists() -> None:
    event = SessionUpdateEvent.model_validate(
        {
            "type": "session.update",
            "extra_top": 1,
            "session": {
                "type": "realtime",
                "voice": "x",
                "tools": [{"type": "function", "name": "f", "strict": True}],
            },
        }
    )
    assert unknown_field_paths(event) == ["extra_top", "session.voice", "session.tools[0].strict"]


def test_unknown_field_error() -> None:
    error = unknown_field_error("session.turn_detection", event_id="c1")
    assert isinstance(error, RemoteProtocolError)
    assert (error.code, error.param, error.event_id) == (
        "unknown_parameter",
        "session.turn_detection",
        "c1",
    )
    assert "session.audio.input.turn_detection" in error.message
    plain = unknown_field_error("item.whatever", event_id=None)
    assert "Remove it" in plain.message


def test_a_field_name_the_client_chose_is_quoted_escaped_and_bounded() -> None:
    path = "session.x\n05:00:00.000 CRITICAL forged" + "k" * 1000
    error = unknown_field_error(path, event_id=None)
    assert error.message.startswith("Unknown parameter 'session.x\\n05:00:00.000 CRITICAL forged")
    assert f"({len(path)} chars)" in error.message and "\n" not in error.message
    assert error.param is not None and error.param.endswith(f"… ({len(path)} chars)")
    assert "\n" not in error.param and len(error.param) < 300


def test_a_validation_error_path_is_bounded_too() -> None:
    loc = ("e", "metadata", "k\r" * 300)
    wrong = {"type": "string_type", "loc": loc, "msg": "bad", "input": 1}
    _, param, message = describe_validation_error(wrong, "e")
    full = len("metadata.") + 600
    assert param is not None and param.endswith(f"… ({full} chars)") and "\r" not in param
    assert f"({full} chars)" in message and "\r" not in message and len(message) < 700
