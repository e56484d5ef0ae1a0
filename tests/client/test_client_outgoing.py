"""One outgoing event: checked and encoded once, and that text is the frame."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rtagents.client.outgoing import encode_checked, plain_event
from rtagents.protocol.codec import decode_client_event
from rtagents.protocol.errors import LocalProtocolError

MESSAGE = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
}
BAD_TEXT = {"type": "input_text", "text": 5}


def test_the_frame_is_the_text_that_was_checked() -> None:
    out = encode_checked(plain_event(MESSAGE))
    assert out.type == "conversation.item.create" and out.event_id.startswith("evt_")
    assert json.loads(out.text) == out.data == {**MESSAGE, "event_id": out.event_id}
    assert decode_client_event(out.text).type == out.type  # type: ignore[union-attr]


def test_an_event_is_encoded_to_json_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    dumps = json.dumps

    def counting(obj: Any, *args: Any, **kwargs: Any) -> str:
        calls.append(obj)
        return dumps(obj, *args, **kwargs)

    monkeypatch.setattr(json, "dumps", counting)
    encode_checked(plain_event(MESSAGE))
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("event", "param"),
    [
        ({**MESSAGE, "item": {**MESSAGE["item"], "content": [BAD_TEXT]}}, "text"),
        ({"type": "no.such.event"}, "type"),
        ({"type": "response.create", "response": {"input": [{"type": "item_reference"}]}}, "id"),
    ],
)
def test_a_bad_event_is_refused_naming_the_field(event: dict[str, Any], param: str) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        encode_checked(plain_event(event))
    assert caught.value.param is not None and caught.value.param.endswith(param)


def test_what_json_cannot_hold_is_refused_not_crashed_on() -> None:
    event = {**MESSAGE, "event_id": "evt_bytes", "item": {**MESSAGE["item"], "id": b"raw"}}
    with pytest.raises(LocalProtocolError, match="cannot be sent as JSON") as caught:
        encode_checked(plain_event(event))
    assert caught.value.code == "invalid_value" and caught.value.event_id == "evt_bytes"


def test_item_references_are_checked_and_sent_as_given() -> None:
    reference = {"type": "item_reference", "id": "item_1"}
    event = {"type": "response.create", "response": {"conversation": "none", "input": [reference]}}
    out = encode_checked(plain_event(event))
    assert json.loads(out.text)["response"]["input"] == [reference]
