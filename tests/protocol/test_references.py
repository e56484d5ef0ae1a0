"""``item_reference`` in ``response.create``'s ``input``: accepted as the GA API does."""

from __future__ import annotations

from typing import Any

import pytest

from rtagents.protocol.codec import validate_client_event
from rtagents.protocol.errors import LocalProtocolError
from rtagents.protocol.references import stand_in_for_references

MESSAGE = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


def _create(*entries: Any, event_id: str | None = "c1") -> dict[str, Any]:
    event: dict[str, Any] = {"type": "response.create", "response": {"input": list(entries)}}
    if event_id is not None:
        event["event_id"] = event_id
    return event


def test_a_response_input_may_reference_conversation_items() -> None:
    event = _create({"type": "item_reference", "id": "item_1"}, MESSAGE)
    decoded = validate_client_event(event)
    # The models cannot hold a reference: the returned model lists the other items.
    assert [item.role for item in decoded.response.input] == ["user"]
    assert event["response"]["input"][0] == {"type": "item_reference", "id": "item_1"}


def test_only_references_is_fine_too() -> None:
    decoded = validate_client_event(
        _create({"type": "item_reference", "id": "a", "object": "realtime.item"})
    )
    assert decoded.response.input == []


@pytest.mark.parametrize(
    ("reference", "code", "param"),
    [
        ({"type": "item_reference"}, "missing_required_parameter", "response.input[1].id"),
        (
            {"type": "item_reference", "id": ""},
            "missing_required_parameter",
            "response.input[1].id",
        ),
        ({"type": "item_reference", "id": 7}, "missing_required_parameter", "response.input[1].id"),
        (
            {"type": "item_reference", "id": "a", "text": "x"},
            "unknown_parameter",
            "response.input[1].text",
        ),
    ],
)
def test_malformed_references_name_their_field(
    reference: dict[str, Any], code: str, param: str
) -> None:
    with pytest.raises(LocalProtocolError) as info:
        validate_client_event(_create(MESSAGE, reference))
    assert (info.value.code, info.value.param, info.value.event_id) == (code, param, "c1")


def test_other_items_keep_their_index_in_errors() -> None:
    broken = {"type": "message", "role": "user"}
    with pytest.raises(LocalProtocolError) as info:
        validate_client_event(_create({"type": "item_reference", "id": "a"}, broken, event_id=None))
    assert info.value.param == "response.input[1].content"
    assert info.value.event_id is None


@pytest.mark.parametrize(
    "event",
    [
        {"type": "input_audio_buffer.commit"},
        {"type": "response.create"},
        {"type": "response.create", "response": "not a mapping"},
        {"type": "response.create", "response": {"input": "not a list"}},
        _create(MESSAGE),
        {"type": "conversation.item.create", "response": {"input": [{"type": "item_reference"}]}},
    ],
)
def test_events_without_references_pass_through_unchanged(event: dict[str, Any]) -> None:
    assert stand_in_for_references(event) == (event, [])
