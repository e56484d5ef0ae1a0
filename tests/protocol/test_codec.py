"""The codec: decode never raises, errors name fields, beta names map, round trips hold."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from openai.types.realtime import (
    InputAudioBufferAppendEvent,
    ResponseAudioDeltaEvent,
    ResponseCreateEvent,
    SessionUpdateEvent,
)

from rtagents.protocol import codec
from rtagents.protocol.codec import (
    InvalidEvent,
    UnknownEvent,
    decode_client_event,
    decode_server_event,
    encode_event,
    known_types,
    validate_client_event,
    warm_up,
)
from rtagents.protocol.errors import LocalProtocolError, Origin

ITEM = {
    "id": "i1",
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "hi"}],
}
VALID_SERVER = [
    {"type": "session.created", "event_id": "e1", "session": {"type": "realtime"}},
    {
        "type": "session.updated",
        "event_id": "e2",
        "session": {
            "type": "realtime",
            "audio": {"output": {"format": {"type": "audio/pcmu"}}},
            "tools": [{"type": "function", "name": "f", "parameters": {}}],
        },
    },
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
        "type": "response.done",
        "event_id": "e5",
        "response": {
            "id": "r",
            "status": "completed",
            "output": [ITEM],
            "usage": {"total_tokens": 1},
        },
    },
    {
        "type": "error",
        "event_id": "e6",
        "error": {"type": "invalid_request_error", "code": "x", "message": "m", "param": "p"},
    },
    {
        "type": "input_audio_buffer.speech_started",
        "event_id": "e7",
        "audio_start_ms": 10,
        "item_id": "i",
    },
]
VALID_CLIENT = [
    {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "turn_detection": {"type": "semantic_vad"},
                }
            },
        },
    },
    {"type": "input_audio_buffer.append", "event_id": "c1", "audio": "AAAA"},
    {"type": "conversation.item.create", "previous_item_id": "root", "item": ITEM},
    {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0, "audio_end_ms": 5},
    {"type": "response.create", "response": {"conversation": "none", "metadata": {"k": "v"}}},
    {"type": "response.cancel"},
]


def raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


# --- decoding valid events ---------------------------------------------------


@pytest.mark.parametrize("event", VALID_SERVER, ids=lambda e: e["type"])
def test_valid_server_events_decode_to_models_and_round_trip(event: dict[str, Any]) -> None:
    decoded = decode_server_event(raw(event))
    assert type(decoded).__name__ not in ("InvalidEvent", "UnknownEvent")
    assert decoded.type == event["type"]
    assert decode_server_event(encode_event(decoded)) == decoded
    assert json.loads(encode_event(decoded)) == event  # exclude_unset keeps the wire shape


@pytest.mark.parametrize("event", VALID_CLIENT, ids=lambda e: e["type"])
def test_valid_client_events_decode_to_models_and_round_trip(event: dict[str, Any]) -> None:
    decoded = decode_client_event(raw(event))
    assert not isinstance(decoded, InvalidEvent | UnknownEvent)
    assert decode_client_event(encode_event(decoded)) == decoded
    assert validate_client_event(decoded) == decoded
    assert validate_client_event(event) == decoded


def test_every_input_type_is_accepted() -> None:
    event = VALID_SERVER[3]
    text = json.dumps(event)
    for data in (text, text.encode(), bytearray(text.encode()), memoryview(text.encode())):
        assert isinstance(decode_server_event(data), ResponseAudioDeltaEvent)
        assert decode_client_event(data).type == "response.output_audio.delta"


def test_known_types_per_side() -> None:
    assert "session.update" in known_types("client") and "session.update" not in known_types(
        "server"
    )
    assert "response.output_audio.delta" in known_types("server")
    assert len(known_types("client")) == 11
    warm_up()  # builds both adapters; must not raise when already built


# --- unknown and invalid ------------------------------------------------------


def test_an_unknown_type_passes_through_with_its_raw_json() -> None:
    data = b'{"type":"future.thing","event_id":"e9","x":[1]}'
    for decode in (decode_server_event, decode_client_event):
        event = decode(data)
        assert isinstance(event, UnknownEvent)
        assert (event.type, event.event_id, event.data["x"]) == ("future.thing", "e9", [1])
        assert encode_event(event) == data.decode()


@pytest.mark.parametrize(
    ("data", "code", "param"),
    [
        (b"\xff\xfe", "invalid_json", None),
        (b"{", "invalid_json", None),
        (b"[1, 2]", "invalid_event", None),
        (b'"text"', "invalid_event", None),
        (b'{"no": "type"}', "invalid_event", "type"),
        (b'{"type": 5}', "invalid_event", "type"),
    ],
)
def test_garbage_becomes_an_invalid_event(data: bytes, code: str, param: str | None) -> None:
    for decode in (decode_server_event, decode_client_event):
        event = decode(data)
        assert isinstance(event, InvalidEvent)
        assert (event.error.code, event.error.param) == (code, param)
        assert event.error.origin is Origin.REMOTE and event.error.message


@pytest.mark.parametrize(
    ("data", "event_id"),
    [
        # A lone surrogate escape: the wire parser refuses it, the ids are still readable.
        (rb'{"event_id": "e1", "type": "session.update", "session": {"x": "\ud800"}}', "e1"),
        (rb'{"type": "response.create", "event_id": "e2", oops', "e2"),  # broken after the id
        (rb'{"event_id": "\ud800", "type": "x"} tail', None),  # an id that cannot be echoed
        (b'{"type": "x", "oops', None),  # broken before any id
        (b'{"event_id": "e3", "ty\x01pe": "x"}', "e3"),  # a control character in a key
        (b'{"ev\x01": 1, "event_id": "e4"}', None),  # ... before the id: nothing more is read
        ('{"event_id": "\u00e9t\u00e9", "x": tru'.encode(), "\u00e9t\u00e9"),  # not ASCII, fine
    ],
)
def test_invalid_json_keeps_the_event_id_it_can_read(data: bytes, event_id: str | None) -> None:
    for decode in (decode_server_event, decode_client_event):
        event = decode(data)
        assert isinstance(event, InvalidEvent)
        assert event.error.code == "invalid_json"
        assert (event.event_id, event.error.event_id) == (event_id, event_id)
        reply = {"type": "invalid_request_error", "message": "-", "event_id": event_id}
        encode_event({"type": "error", "event_id": "r", "error": reply})  # can be sent back


@pytest.mark.parametrize(
    ("event", "code", "param", "hint"),
    [
        (
            {"type": "input_audio_buffer.append", "event_id": "c7"},
            "missing_required_parameter",
            "audio",
            "Add it",
        ),
        (
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
                },
            },
            "invalid_value",
            "session.audio.input.format.rate",
            "24000",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"format": "g711_ulaw"}}},
            },
            "invalid_type",
            "session.audio.output.format",
            '{"type": "audio/pcmu"}',
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": 5}],
                },
            },
            "invalid_type",
            "item.content[0].text",
            "valid string",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "x"}],
                    "status": "bogus",
                },
            },
            "invalid_value",
            "item.status",
            "Fix the field",
        ),
        (
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"noise_reduction": {"type": "loud"}}},
                },
            },
            "invalid_value",
            "session.audio.input.noise_reduction.type",
            "near_field",
        ),
        (
            {"type": "response.output_text.delta", "event_id": "s1"},
            "invalid_event",
            "type",
            "server event",
        ),
    ],
)
def test_bad_fields_are_named_even_inside_nested_unions(
    event: dict[str, Any], code: str, param: str, hint: str
) -> None:
    decoded = decode_client_event(raw(event))
    assert isinstance(decoded, InvalidEvent)
    assert (decoded.error.code, decoded.error.param) == (code, param)
    assert hint in decoded.error.message
    assert decoded.type == event["type"] and decoded.event_id == event.get("event_id")
    assert decoded.error.event_id == event.get("event_id")


def test_a_client_event_from_a_server_is_invalid() -> None:
    event = decode_server_event(b'{"type":"input_audio_buffer.append","event_id":"e","audio":""}')
    assert isinstance(event, InvalidEvent)
    assert event.error.param == "type" and "client event" in event.error.message


def test_a_malformed_response_done_keeps_its_data_for_bookkeeping() -> None:
    event = decode_server_event(
        b'{"type":"response.done","event_id":"e","response":{"id":"r","status":1}}'
    )
    assert isinstance(event, InvalidEvent)
    assert event.type == "response.done" and event.data["response"]["id"] == "r"  # type: ignore[index]
    assert event.error.param == "response.status"


@pytest.mark.parametrize(
    ("session", "path", "replacement"),
    [
        (
            {"type": "realtime", "modalities": ["text"]},
            "session.modalities",
            "session.output_modalities",
        ),
        ({"type": "realtime", "voice": "alloy"}, "session.voice", "session.audio.output.voice"),
        ({"type": "realtime", "temperature": 0.7}, "session.temperature", "no temperature"),
        (
            {"type": "realtime", "input_audio_format": "pcm16"},
            "session.input_audio_format",
            "session.audio.input.format",
        ),
    ],
)
def test_beta_session_fields_are_rejected_with_the_ga_replacement(
    session: dict[str, Any], path: str, replacement: str
) -> None:
    event = decode_client_event(
        raw({"type": "session.update", "event_id": "c1", "session": session})
    )
    assert isinstance(event, InvalidEvent)
    assert (event.error.code, event.error.param) == ("unknown_parameter", path)
    assert replacement in event.error.message and "beta" in event.error.message
    assert event.event_id == "c1" and event.data is not None


def test_unknown_nested_fields_are_rejected_without_beta_hint() -> None:
    event = decode_client_event(
        raw(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "tools": [{"type": "function", "name": "f", "strict": True}],
                },
            }
        )
    )
    assert isinstance(event, InvalidEvent)
    assert event.error.param == "session.tools[0].strict"
    assert "beta" not in event.error.message and "Remove it" in event.error.message


def test_beta_response_fields_name_the_response_path() -> None:
    event = decode_client_event(
        raw({"type": "response.create", "response": {"modalities": ["text"]}})
    )
    assert isinstance(event, InvalidEvent)
    assert "response.output_modalities" in event.error.message


# --- beta server names ----------------------------------------------------------


@pytest.fixture
def fresh_beta_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "_warned_beta", set())


BETA_AUDIO = {
    "type": "response.audio.delta",
    "event_id": "e",
    "response_id": "r",
    "item_id": "i",
    "output_index": 0,
    "content_index": 0,
    "delta": "AAAA",
}


@pytest.mark.usefixtures("fresh_beta_warnings")
def test_beta_server_names_map_to_ga_with_one_warning_per_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="rtagents.protocol.codec")
    for _ in range(3):
        event = decode_server_event(raw(BETA_AUDIO))
        assert isinstance(event, ResponseAudioDeltaEvent)
    text = {**BETA_AUDIO, "type": "response.text.delta"}
    assert decode_server_event(raw(text)).type == "response.output_text.delta"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.event_type for r in warnings] == ["response.audio.delta", "response.text.delta"]  # type: ignore[attr-defined]
    assert all(r.outcome == "mapped_beta" for r in warnings)  # type: ignore[attr-defined]
    assert "response.output_audio.delta" in warnings[0].getMessage()


@pytest.mark.usefixtures("fresh_beta_warnings")
def test_a_malformed_beta_event_is_invalid_under_its_ga_name() -> None:
    event = decode_server_event(b'{"type":"response.text.delta","event_id":"e"}')
    assert isinstance(event, InvalidEvent)
    assert (
        event.type == "response.output_text.delta"
        and event.error.code == "missing_required_parameter"
    )


def test_beta_client_names_are_not_mapped() -> None:
    assert isinstance(decode_client_event(b'{"type":"transcription_session.update"}'), UnknownEvent)


# --- validating what we send ----------------------------------------------------


def test_validate_client_event_raises_local_errors_for_dicts_and_models() -> None:
    with pytest.raises(LocalProtocolError) as info:
        validate_client_event({"type": "input_audio_buffer.append", "event_id": "c1"})
    assert (info.value.param, info.value.event_id, info.value.origin) == (
        "audio",
        "c1",
        Origin.LOCAL,
    )

    model = SessionUpdateEvent.model_construct(
        type="session.update", session={"type": "realtime", "voice": "alloy"}
    )
    with pytest.raises(LocalProtocolError, match="session.audio.output.voice"):
        validate_client_event(model)


def test_validate_client_event_rejects_unknown_types_listing_the_ga_ones() -> None:
    with pytest.raises(LocalProtocolError) as info:
        validate_client_event({"type": "transcription_session.update", "event_id": "c2"})
    assert info.value.code == "invalid_event" and info.value.param == "type"
    assert "session.update" in info.value.message and info.value.event_id == "c2"


def test_validate_client_event_accepts_models() -> None:
    event = InputAudioBufferAppendEvent(type="input_audio_buffer.append", audio="AAAA")
    assert validate_client_event(event) == event
    created = ResponseCreateEvent(type="response.create")
    assert encode_event(validate_client_event(created)) == '{"type":"response.create"}'


def test_encode_event_accepts_plain_dicts() -> None:
    assert encode_event({"type": "response.cancel", "event_id": "c"}) == (
        '{"type":"response.cancel","event_id":"c"}'
    )
