"""Codec properties: decoding never raises, whatever arrives; valid events round-trip."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtagents.protocol.codec import (
    InvalidEvent,
    UnknownEvent,
    decode_client_event,
    decode_server_event,
    encode_event,
    known_types,
)
from rtagents.protocol.errors import ProtocolError

ITEM = {
    "id": "i1",
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "hi"}],
}
TEMPLATES: list[dict[str, Any]] = [
    {"type": "conversation.item.added", "event_id": "e3", "previous_item_id": None, "item": ITEM},
    {
        "type": "response.output_audio.delta",
        "event_id": "e4",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": "AAAA",
    },
    {
        "type": "response.output_text.delta",
        "event_id": "e5",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": "hi",
    },
    {"type": "session.updated", "event_id": "e2", "session": {"type": "realtime"}},
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
event_types = st.sampled_from(sorted(known_types("client") | known_types("server") | {"x.unknown"}))
json_events = st.fixed_dictionaries(
    {"type": event_types}, optional={"event_id": st.text(max_size=5)}
).flatmap(
    lambda base: st.dictionaries(st.text(max_size=10), json_values, max_size=4).map(
        lambda extra: {**extra, **base}
    )
)


def assert_decoded(event: object) -> None:
    if isinstance(event, InvalidEvent):
        assert isinstance(event.error, ProtocolError) and event.error.code
        assert event.error.message
    elif not isinstance(event, UnknownEvent):
        assert isinstance(event.type, str)  # type: ignore[attr-defined]


@settings(max_examples=150)
@given(st.binary(max_size=200))
def test_any_bytes_decode_without_raising(data: bytes) -> None:
    assert_decoded(decode_server_event(data))
    assert_decoded(decode_client_event(data))


@settings(max_examples=300)
@given(json_events)
def test_any_json_event_decodes_without_raising(event: dict[str, Any]) -> None:
    data = json.dumps(event, allow_nan=False)  # the wire is RFC 8259 JSON: no Infinity/NaN
    for decode in (decode_server_event, decode_client_event):
        decoded = decode(data)
        assert_decoded(decoded)
        if not isinstance(decoded, InvalidEvent | UnknownEvent):
            assert decode(encode_event(decoded)) == decoded


@given(
    template=st.sampled_from(TEMPLATES),
    event_id=st.text(max_size=12),
    text=st.text(max_size=20),
)
def test_round_trip_of_varied_valid_events(
    template: dict[str, Any], event_id: str, text: str
) -> None:
    event = {**template, "event_id": event_id}
    if "delta" in event:
        event["delta"] = text
    decoded = decode_server_event(json.dumps(event))
    assert not isinstance(decoded, InvalidEvent | UnknownEvent)
    assert decode_server_event(encode_event(decoded)) == decoded
