"""Decoding's results and the reading of refused bytes, on their own."""

from __future__ import annotations

from rtagents.protocol.decoded import (
    InvalidEvent,
    UnknownEvent,
    describe_failure,
    fields_of,
    peek_fields,
    readable_ids,
    too_deep_event,
    unknown_event,
)


def test_the_fast_unknown_event_equals_the_constructed_one() -> None:
    fast = unknown_event("x.y", "evt_1", {"type": "x.y"}, b'{"type":"x.y"}')
    slow = UnknownEvent(type="x.y", event_id="evt_1", data={"type": "x.y"}, raw=b'{"type":"x.y"}')
    assert fast == slow


def test_refused_bytes_are_read_as_far_as_they_allow() -> None:
    assert peek_fields(b"not json") == (None, None, None)
    assert peek_fields(b'{"type": 3, "event_id": "e"}') == ({"type": 3, "event_id": "e"}, None, "e")
    assert fields_of([1, 2]) == (None, None, None)
    # A stray byte after the event_id: the parser refuses, the ids are still read.
    assert readable_ids(b'{"type":"response.create","event_id":"evt_9"}\xff') == (
        "response.create",
        "evt_9",
    )
    # A lone surrogate cannot be sent back as UTF-8: it is left out, not sent broken.
    assert readable_ids(b'{"type":"a","event_id":"\\ud800"}') == ("a", None)


def test_too_deep_bytes_name_their_event_and_say_what_to_do() -> None:
    raw = b'{"type":"session.update","event_id":"evt_2","session":' + b"[" * 300
    event = too_deep_event(raw)
    assert isinstance(event, InvalidEvent) and event.event_id == "evt_2"
    assert event.error.code == "json_too_deep" and "without the deep nesting" in event.error.message


def test_failures_without_an_object_say_what_an_event_is() -> None:
    assert describe_failure({"type": "json_invalid", "msg": "EOF"}, None, None)[0] == "invalid_json"
    assert describe_failure({"type": "model_type", "msg": "x"}, None, None)[0] == "invalid_event"
    code, param, _ = describe_failure({"type": "union_tag_not_found", "msg": ""}, {}, None)
    assert (code, param) == ("invalid_event", "type")
