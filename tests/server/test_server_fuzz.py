"""Random mixes of valid and malformed client events against the real server.

Property: whatever arrives, the server never crashes or closes the session;
every event it emits is schema-valid; every malformed message is answered by an
``error`` (naming the client's ``event_id`` when it had one); and afterwards the
session still answers a probe.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from rtagents.protocol.codec import (
    InvalidEvent,
    UnknownEvent,
    decode_client_event,
    decode_server_event,
)
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server

_TYPES = [
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
]
_json_leaf = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_valid = st.sampled_from(
    [
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello"}],
            },
        },
        {"type": "response.create", "response": {"output_modalities": ["text"]}},
        {"type": "response.cancel"},
        {
            "type": "input_audio_buffer.append",
            "audio": base64.b64encode(b"\x00\x01" * 2400).decode(),
        },
        {"type": "input_audio_buffer.commit"},
        {"type": "input_audio_buffer.clear"},
        {"type": "conversation.item.retrieve", "item_id": "item_missing"},
        {"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}},
    ]
)
# A known type with arbitrary fields: mostly invalid, sometimes accidentally fine.
_mangled = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    st.sampled_from(_TYPES),
    st.dictionaries(
        st.sampled_from(
            [
                "session",
                "item",
                "item_id",
                "audio",
                "response",
                "audio_end_ms",
                "content_index",
                "x",
            ]
        ),
        _json,
        max_size=3,
    ),
)
_garbage = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40),
    _json.map(lambda value: json.dumps(value).encode()),
)
_message = st.one_of(
    _valid.map(lambda e: ("valid", e)),
    _mangled.map(lambda e: ("mangled", e)),
    _garbage.map(lambda raw: ("garbage", raw)),
)


def _schema_valid(text: str) -> bool:
    decoded = decode_client_event(text)
    return not isinstance(decoded, UnknownEvent | InvalidEvent)


async def _read(ws: Any, *, until_error_for: str | None, quiet_s: float) -> list[Any]:
    """Schema-checked events until the error answering ``until_error_for`` (or quiet)."""
    events = []
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), quiet_s if until_error_for is None else 10)
        except TimeoutError:
            assert until_error_for is None, f"no answer to {until_error_for}"
            return events
        event = decode_server_event(raw)
        assert not isinstance(event, UnknownEvent | InvalidEvent), raw
        events.append(event)
        if event.type == "error" and event.error.event_id == until_error_for:
            return events


async def _exercise(messages: list[tuple[str, Any]]) -> None:
    async with running_server(ServerConfig(port=0)) as server:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        async with connect(f"{server.ws_url}?model=gpt-realtime", additional_headers=headers) as ws:
            must_fail = set()
            for index, (kind, payload) in enumerate(messages):
                if kind == "garbage":
                    await ws.send(payload)
                    continue
                event_id = f"evt_fuzz_{index}"
                text = json.dumps({**payload, "event_id": event_id})
                if not _schema_valid(text):
                    must_fail.add(event_id)
                await ws.send(text)
            # The server answers in order, so once the probe is answered every
            # earlier message has been; the session is still alive to answer it.
            probe = {"type": "conversation.item.retrieve", "item_id": "item_x", "event_id": "probe"}
            await ws.send(json.dumps(probe))
            events = await _read(ws, until_error_for="probe", quiet_s=0)
            events += await _read(ws, until_error_for=None, quiet_s=0.05)  # trailing responses
            errors = [e.error for e in events if e.type == "error"]
            for error in errors:
                assert error.type and error.code and error.message
            garbage = sum(1 for kind, _ in messages if kind == "garbage")
            assert sum(1 for error in errors if error.event_id is None) == garbage
            assert must_fail <= {error.event_id for error in errors}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_message, min_size=1, max_size=12))
def test_any_mix_of_events_leaves_the_session_usable(messages: list[tuple[str, Any]]) -> None:
    asyncio.run(_exercise(messages))
