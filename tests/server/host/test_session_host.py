"""session.update, and bad input of every kind: each gets an error, the session goes on."""

from __future__ import annotations

import asyncio

import pytest
from server_harness import RawClient, session, types

from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import Limits
from rtagents.server.host.session_host import SessionHost
from rtagents.server.local.pipeline import local_backend
from rtagents.server.local.session_config import SessionConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.transports.memory import memory_pair


@pytest.fixture
async def server() -> RunningServer:
    async with running_server(ServerConfig(port=0, limits=Limits(append_bytes=1000))) as running:
        yield running


async def _still_alive(client: RawClient) -> None:
    await client.roundtrip({"type": "input_audio_buffer.clear"}, "input_audio_buffer.cleared")


@pytest.mark.conformance(
    "session.update",
    "session.updated",
    "instructions",
    "audio.output.voice",
    "audio.output.format[audio/pcmu]",
    status="supported",
    client="raw",
    transport="in-process",
    note="nested objects merge field by field",
)
async def test_session_update_merges_nested_config(client: RawClient) -> None:
    update = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "instructions": "Talk like a pirate.",
            "audio": {"output": {"voice": "marin"}},
        },
    }
    first = await client.roundtrip(update, "session.updated")
    second = await client.roundtrip(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"output": {"format": {"type": "audio/pcmu"}}},
            },
        },
        "session.updated",
    )
    assert first.session.instructions == "Talk like a pirate."
    assert second.session.audio.output.voice == "marin"  # kept from the first update
    assert second.session.audio.output.format.type == "audio/pcmu"
    assert second.session.audio.input.format.type == "audio/pcm"  # untouched
    assert second.session.instructions == "Talk like a pirate."


async def test_session_update_clears_with_empty_values(client: RawClient) -> None:
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}}
    await client.roundtrip(
        {"type": "session.update", "session": {"type": "realtime", "tools": [tool]}},
        "session.updated",
    )
    cleared = await client.roundtrip(
        {"type": "session.update", "session": {"type": "realtime", "tools": []}}, "session.updated"
    )
    assert cleared.session.tools == []


@pytest.mark.conformance(
    "session.update",
    "error",
    "model",
    status="supported",
    client="raw",
    transport="in-process",
    note="bad values refused with the param and event_id, the session goes on; model cannot change",
)
@pytest.mark.parametrize(
    ("session_update", "code", "param"),
    [
        ({"type": "realtime", "model": "gpt-4o"}, "cannot_update_model", "session.model"),
        ({"type": "transcription"}, "invalid_value", "session.type"),
        ({"type": "realtime", "voice": "ash"}, "unknown_parameter", "session.voice"),
        ({"type": "realtime", "temperature": 0.7}, "unknown_parameter", "session.temperature"),
        (
            {"type": "realtime", "output_modalities": ["text", "audio"]},
            "invalid_value",
            "session.output_modalities",
        ),
        (
            {"type": "realtime", "max_output_tokens": 5000},
            "invalid_value",
            "session.max_output_tokens",
        ),
        (
            {"type": "realtime", "audio": {"input": {"format": "pcm16"}}},
            "invalid_type",
            "session.audio.input.format",
        ),
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}},
            },
            "invalid_value",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {"type": "realtime", "tools": [{"type": "function", "name": "a"}, {"name": "a"}]},
            "invalid_value",
            "session.tools[1].name",
        ),
        (
            {"type": "realtime", "tool_choice": {"type": "function", "name": "missing"}},
            "invalid_value",
            "session.tool_choice.name",
        ),
        (
            {"type": "realtime", "audio": {"output": {"speed": 3.0}}},
            "invalid_value",
            "session.audio.output.speed",
        ),
    ],
)
async def test_session_update_refusals(
    client: RawClient, session_update: dict[str, object], code: str, param: str
) -> None:
    error = await client.error(
        {"type": "session.update", "event_id": "evt_1", "session": session_update}
    )
    assert (error.code, error.param) == (code, param), error
    assert error.type == "invalid_request_error"
    assert error.event_id == "evt_1"
    await _still_alive(client)


async def test_beta_format_string_names_the_ga_object(client: RawClient) -> None:
    update = {"type": "realtime", "audio": {"output": {"format": "g711_ulaw"}}}
    error = await client.error({"type": "session.update", "session": update})
    assert '{"type": "audio/pcmu"}' in error.message


async def test_malformed_json(client: RawClient) -> None:
    await client.ws.send("{not json")
    reply = await client.recv()
    assert reply.error.code == "invalid_json"
    await _still_alive(client)


async def test_binary_frame(client: RawClient) -> None:
    await client.ws.send(b"\x00\x01")
    reply = await client.recv()
    assert reply.error.code == "invalid_event"
    assert "text frame" in reply.error.message
    await _still_alive(client)


async def test_unknown_event_type_lists_the_valid_ones(client: RawClient) -> None:
    error = await client.error({"type": "response.explode", "event_id": "e9"})
    assert (error.code, error.param, error.event_id) == ("invalid_value", "type", "e9")
    assert "session.update" in error.message and "response.cancel" in error.message
    await _still_alive(client)


async def test_beta_client_event_names_its_replacement(client: RawClient) -> None:
    error = await client.error({"type": "transcription_session.update", "session": {}})
    assert "session.update" in error.message and "transcription" in error.message


async def test_server_event_sent_by_a_client(client: RawClient) -> None:
    error = await client.error({"type": "session.created", "event_id": "e1", "session": {}})
    assert error.param == "type" and "server event" in error.message


async def test_wrong_field_type(client: RawClient) -> None:
    error = await client.error({"type": "input_audio_buffer.append", "audio": 42, "event_id": "a"})
    assert (error.code, error.param, error.event_id) == ("invalid_type", "audio", "a")


async def test_append_over_the_limit(client: RawClient) -> None:
    import base64

    audio = base64.b64encode(b"\x00" * 1002).decode()
    error = await client.error({"type": "input_audio_buffer.append", "audio": audio})
    assert (error.code, error.param) == ("input_audio_too_large", "audio")
    assert "1000" in error.message
    await _still_alive(client)


async def test_bad_base64_and_odd_pcm(client: RawClient) -> None:
    bad = await client.error({"type": "input_audio_buffer.append", "audio": "@@@"})
    assert bad.param == "audio"
    odd = await client.error({"type": "input_audio_buffer.append", "audio": "AAAA"})
    assert odd.param == "audio" and "odd" in odd.message


@pytest.mark.conformance(
    "output_audio_buffer.clear",
    status="refused",
    client="raw",
    transport="in-process",
    note="on a WebSocket session, as hosted (WebRTC/SIP only)",
)
async def test_output_audio_buffer_clear_is_webrtc_only(client: RawClient) -> None:
    error = await client.error({"type": "output_audio_buffer.clear", "event_id": "o1"})
    assert error.code == "unsupported_on_websocket" and "WebRTC" in error.message


async def test_frame_beyond_the_transport_limit_closes_1009() -> None:
    from websockets.exceptions import ConnectionClosed

    async with running_server(ServerConfig(port=0, limits=Limits(frame_bytes=4096))) as server:
        async with session(server) as client:
            await client.ws.send("x" * 5000)
            with pytest.raises(ConnectionClosed) as closed:
                await client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_events_after_closing_get_session_closed() -> None:
    """On an in-memory pair, so the window between 'closing' and 'closed' can be held open."""
    async with running_server(ServerConfig(port=0)) as server:
        state = server.app.state.rtagents
        ours, theirs = memory_pair()
        config = SessionConfig.initial("realtime", "gpt-realtime")
        host = SessionHost(ours, state.config, local_backend(state, config))
        task = asyncio.create_task(host.run())
        greeting = [decode_server_event(await theirs.recv()) for _ in range(2)]
        assert types(greeting) == ["session.created", "conversation.created"]
        host.begin_closing()
        await theirs.send(encode_event({"type": "response.create", "event_id": "late"}))
        reply = decode_server_event(await theirs.recv())
        await theirs.close()
        await task
    assert reply.type == "error"
    assert (reply.error.code, reply.error.event_id) == ("session_closed", "late")
