"""The tagged fast path must agree with the plain union on every input."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, TypeAdapter
from pydantic_core import SchemaValidator

from rtagents.protocol.codec import InvalidEvent, _adapter, _server_validator, decode_server_event
from rtagents.protocol.tuning import tag_nested_unions

TOOL = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
SESSION = {
    "type": "realtime",
    "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "marin"}},
    "tools": [TOOL, {"type": "mcp", "server_label": "x"}],
}


def _item(role: str, part: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"item_{role}",
        "role": role,
        "content": [{"type": part, "text": "hi"}],
    }


EVENTS: list[dict[str, Any]] = [
    {"type": "session.updated", "event_id": "e1", "session": SESSION},
    {"type": "conversation.item.added", "event_id": "e2", "item": _item("user", "input_text")},
    {"type": "conversation.item.added", "event_id": "e3", "item": _item("system", "input_text")},
    {"type": "conversation.item.done", "event_id": "e4", "item": _item("assistant", "output_text")},
    {
        "type": "conversation.item.added",
        "event_id": "e5",
        "item": {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
    },
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e["event_id"])
def test_fast_path_builds_the_same_models_as_the_plain_union(event: dict[str, Any]) -> None:
    raw = json.dumps(event).encode()
    assert _server_validator().validate_json(raw) == _adapter("server").validate_json(raw)


def test_the_format_and_tool_unions_are_tagged() -> None:
    tuned = json.dumps(tag_nested_unions(_adapter("server").core_schema), default=str)
    assert '"audio/pcmu"' in tuned and '"message:assistant"' in tuned and '"mcp"' in tuned


def test_input_outside_the_fast_path_is_judged_by_the_plain_union() -> None:
    # A function tool may omit its optional "type". Whether the fast path takes
    # it depends on how pydantic happened to build the openai schemas; the
    # decoder's answer must not: it always equals the plain union's.
    untyped_tool = {k: v for k, v in TOOL.items() if k != "type"}
    session = {**SESSION, "tools": [untyped_tool]}
    raw = json.dumps({"type": "session.updated", "event_id": "e", "session": session}).encode()
    event = decode_server_event(raw)
    assert event == _adapter("server").validate_json(raw)
    assert event.session.tools[0].name == "f"


def test_invalid_input_gets_the_plain_unions_error() -> None:
    bad = {**SESSION, "audio": {"output": {"format": {"type": "audio/pcm", "rate": 16000}}}}
    raw = json.dumps({"type": "session.updated", "event_id": "e", "session": bad}).encode()
    event = decode_server_event(raw)
    assert isinstance(event, InvalidEvent)
    assert event.error.param == "session.audio.output.format.rate"


def test_role_discriminator_also_reads_model_instances() -> None:
    item = _adapter("server").validate_json(json.dumps(EVENTS[1]).encode()).item
    event = {"type": "conversation.item.added", "event_id": "e", "item": item}
    assert _server_validator().validate_python(event).item == item


class _A(BaseModel):
    type: Literal["same"]
    a: int = 0


class _B(BaseModel):
    type: Literal["same"]
    b: int = 0


class _Holder(BaseModel):
    value: _A | _B


def test_ambiguous_unions_are_left_alone() -> None:
    schema = TypeAdapter(_Holder).core_schema
    assert "tagged-union" not in json.dumps(tag_nested_unions(schema), default=str)
    validator = SchemaValidator(tag_nested_unions(schema))
    assert validator.validate_python({"value": {"type": "same", "b": 2}}).value == _B(
        type="same", b=2
    )


class _Plain(BaseModel):
    kind: int


class _Mixed(BaseModel):
    value: Annotated[_A | _Plain, "not all members carry a literal type"]


def test_unions_with_untagged_members_are_left_alone() -> None:
    schema = TypeAdapter(_Mixed).core_schema
    assert "tagged-union" not in json.dumps(tag_nested_unions(schema), default=str)
