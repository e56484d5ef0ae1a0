"""The server decode path's shortcuts (type peek, parse once) change speed, never results.

Every decoded frame is compared with what the authoritative adapter alone
makes of the same bytes (the judge the codec falls back to): same model class,
same values and set fields, or the same unknown/invalid verdict with the same
error. Frames are generated valid events, mutated, reordered, re-spaced, with
duplicate or escaped ``type`` members, as ``str``, ``bytes`` and ``memoryview``.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from rtagents.protocol import codec
from rtagents.protocol.codec import InvalidEvent, UnknownEvent, decode_server_event

AUDIO_DELTA = {
    "type": "response.output_audio.delta",
    "event_id": "e4",
    "response_id": "r",
    "item_id": "i",
    "output_index": 0,
    "content_index": 0,
    "delta": "AAAA",
}
TOOL = {
    "type": "function",
    "name": "lookup",
    "description": "d",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
SESSION = {
    "type": "realtime",
    "model": "gpt-realtime",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
        },
        "output": {"format": {"type": "audio/pcmu"}, "voice": "marin", "speed": 1},
    },
    "tools": [TOOL],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
}
BASES: list[dict[str, Any]] = [
    AUDIO_DELTA,
    {**AUDIO_DELTA, "type": "response.audio.delta"},  # beta name, mapped to GA
    {"type": "session.updated", "event_id": "e2", "session": SESSION},
    {
        "type": "conversation.item.added",
        "event_id": "e3",
        "previous_item_id": None,
        "item": {"id": "i1", "type": "message", "role": "user", "content": []},
    },
    {"type": "response.future_feature.delta", "event_id": "e5", "payload": {"n": [1, 2]}},
    {"type": "session.update", "event_id": "e6", "session": {"type": "realtime"}},  # client's
    {"event_id": "e7", "delta": "no type"},
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=4), children)
    ),
    max_leaves=6,
)
mutations = st.lists(
    st.tuples(st.sampled_from(["set", "drop", "add"]), st.integers(0, 20), json_values),
    max_size=2,
)


def mutate(event: dict[str, Any], changes: list[tuple[str, int, Any]]) -> dict[str, Any]:
    event = dict(event)
    for action, index, value in changes:
        keys = sorted(event)
        key = keys[index % len(keys)] if keys else "type"
        if action == "set":
            event[key] = value
        elif action == "drop":
            event.pop(key, None)
        else:
            event[f"extra_{index}"] = value
    return event


def frame(event: dict[str, Any], order: str, spaced: bool, seed: int) -> str:
    keys = sorted(event)
    if order == "shuffled":
        random.Random(seed).shuffle(keys)
    elif "type" in event:
        keys.remove("type")
        keys = ["type", *keys] if order == "type first" else [*keys, "type"]
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps({k: event[k] for k in keys}, separators=separators, allow_nan=False)


def judged(raw: bytes) -> object:
    """What the authoritative adapter alone makes of ``raw`` (the pre-shortcut path)."""
    try:
        return codec._adapter("server").validate_json(raw)
    except ValidationError as exc:
        verdict = codec._invalid(raw, exc, "server")
    if isinstance(verdict, UnknownEvent) and verdict.type in codec.BETA_SERVER_EVENT_TYPES:
        return codec._map_beta(verdict)
    return verdict


def assert_same(decoded: object, expected: object) -> None:
    assert type(decoded) is type(expected)
    if isinstance(expected, BaseModel):
        assert isinstance(decoded, BaseModel)
        assert decoded == expected
        assert decoded.model_fields_set == expected.model_fields_set
        assert decoded.model_dump_json() == expected.model_dump_json()
    elif isinstance(expected, InvalidEvent):
        assert isinstance(decoded, InvalidEvent)
        assert (decoded.type, decoded.event_id, decoded.data) == (
            expected.type,
            expected.event_id,
            expected.data,
        )
        assert decoded.raw == expected.raw
        assert (decoded.error.code, decoded.error.param, decoded.error.message) == (
            expected.error.code,
            expected.error.param,
            expected.error.message,
        )
    else:
        assert decoded == expected


@settings(max_examples=400)
@given(
    base=st.sampled_from(BASES),
    changes=mutations,
    order=st.sampled_from(["type first", "type last", "shuffled"]),
    spaced=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_decoding_matches_the_authoritative_adapter(
    base: dict[str, Any], changes: list[tuple[str, int, Any]], order: str, spaced: bool, seed: int
) -> None:
    text = frame(mutate(base, changes), order, spaced, seed)
    expected = judged(text.encode())
    for data in (text, text.encode(), memoryview(text.encode())):
        assert_same(decode_server_event(data), expected)


@settings(max_examples=200)
@given(
    base=st.sampled_from(BASES),
    other=st.sampled_from(["response.output_audio.delta", "session.updated", "x.unknown", 5]),
    where=st.sampled_from(["before", "after"]),
)
def test_a_duplicate_type_member_gets_the_judges_verdict(
    base: dict[str, Any], other: object, where: str
) -> None:
    """The peek reads one ``type`` member; the parser may keep another."""
    text = frame(base, "type first", False, 0)
    member = f'"type":{json.dumps(other)}'
    text = "{" + member + "," + text[1:] if where == "before" else text[:-1] + "," + member + "}"
    assert_same(decode_server_event(text), judged(text.encode()))


@pytest.mark.parametrize(
    "text",
    [
        # the type spelled with an escape: the peek cannot read it, the parser can
        '{"type":"response.output_audio.delt\\u0061","event_id":"e","response_id":"r",'
        '"item_id":"i","output_index":0,"content_index":0,"delta":"AA"}',
        # "type" inside a string at the end: the peek guesses wrong
        '{"event_id":"e","note":"\\"type\\":\\"session.updated\\"}"}',
        # type mid-object: no guess at all
        '{"event_id":"e","type":"response.output_audio.delta","response_id":"r","item_id":"i",'
        '"output_index":0,"content_index":0,"delta":"AA"}',
        '{"event_id":"e","type":"response.output_audio.delta","delta":"AA"}',
        '{"event_id":"e","type":"mystery.event","x":1}',
        '{"type":"session.updated","event_id":"e2","session":{"type":"realtime"}',  # truncated
    ],
)
def test_frames_the_peek_misreads_decode_as_the_judge_says(text: str) -> None:
    assert_same(decode_server_event(text), judged(text.encode()))


def test_a_str_with_a_lone_surrogate_is_invalid_not_an_exception() -> None:
    event = decode_server_event('{"type":"response.output_audio.delta","delta":"\ud800"}')
    assert isinstance(event, InvalidEvent) and event.error.code == "invalid_json"


def test_an_unknown_event_is_built_equal_to_the_dataclass() -> None:
    fast = codec.unknown_event("x.y", None, {"a": 1}, b"{}")
    assert fast == UnknownEvent(type="x.y", event_id=None, data={"a": 1}, raw=b"{}")
    assert repr(fast) == repr(UnknownEvent(type="x.y", event_id=None, data={"a": 1}, raw=b""))


@settings(max_examples=100)
@given(st.text(max_size=40))
def test_any_text_decodes_like_the_judge(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    assert_same(decode_server_event(data), judged(data))
