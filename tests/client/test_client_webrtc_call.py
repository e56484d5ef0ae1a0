"""The SDK over WebRTC against the rtagents server on loopback (scripted model)."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from rtagents import connect, mint_client_secret
from rtagents.client.webrtc_call import WebRTCCall, calls_url
from rtagents.engines.scripted import decode_audio, scripted_engines, scripted_speech
from rtagents.protocol.errors import ConnectionFailure
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

PTT = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, webrtc_loopback=True)
    async with running_server(config, scripted_engines()) as running:
        yield running


async def _heard(call: WebRTCCall, seconds: float) -> bytes:
    """What the call played to us over ``seconds`` (its audio iterator, cut off)."""
    heard = bytearray()

    async def listen() -> None:
        async for chunk in call.audio():
            heard.extend(chunk)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(listen(), seconds)
    return bytes(heard)


async def test_a_voice_turn_over_webrtc_with_the_session_api(server: RunningServer) -> None:
    call = WebRTCCall(loopback=True, session=PTT)
    async with connect(server.http_url, credentials=server.api_key, transport=call) as session:
        assert session.session_id and call.call_id and call.call_id.startswith("rtc_")
        speech = scripted_speech("good morning")
        samples = np.frombuffer(speech, dtype="<i2").astype(np.float32) / 32768
        await call.send_audio(samples)  # float numpy, 24 kHz
        await call.send_audio(bytes(24_000))  # and pcm16 bytes: 0.5 s of silence
        await session.commit_audio()
        done = asyncio.create_task(session.wait_for("response.done", timeout=10))
        await session.create_response()
        response = (await done).response
        assert response.output[0].content[0].transcript == "You said: good morning"
        heard = await _heard(call, 2.0)
        assert decode_audio(heard) == "You said: good morning"
        item = session.conversation.get(response.output[0].id)
        assert item is not None and session.conversation.audio_ms(item.id) == 0  # no deltas


async def test_an_ephemeral_secret_and_a_wav_file(server: RunningServer, tmp_path: Path) -> None:
    heard_config = {"input": {"turn_detection": None, "transcription": {}}}
    secret = await mint_client_secret(
        server.http_url, api_key=server.api_key, session={"type": "realtime", "audio": heard_config}
    )
    path = tmp_path / "hi.wav"
    with wave.open(str(path), "wb") as wav:  # stereo 48 kHz, as a recorder would write
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(48_000)
        mono = np.frombuffer(scripted_speech("from a file") + bytes(24_000), dtype="<i2")
        up = np.repeat(mono, 2)  # 24 -> 48 kHz (sample-and-hold is fine for the tone code)
        wav.writeframes(np.stack([up, up], axis=1).astype("<i2").tobytes())
    call = WebRTCCall(loopback=True)
    async with connect(server.http_url, credentials=secret.value, transport=call) as session:
        await call.send_audio(path)
        await session.commit_audio()
        committed = await session.wait_for(
            "conversation.item.input_audio_transcription.completed", timeout=5
        )
        assert committed.transcript == "from a file"


async def test_transport_webrtc_string_runs_the_same_session(server: RunningServer) -> None:
    async with connect(
        server.http_url, credentials=server.api_key, transport="webrtc", open_timeout=5
    ) as session:
        await session.send_text("typed")
        done = asyncio.create_task(session.wait_for("response.done", timeout=10))
        await session.create_response(output_modalities=["text"])
        assert (await done).response.output[0].content[0].text == "You said: typed"


async def test_the_server_hanging_up_ends_the_session(server: RunningServer) -> None:
    call = WebRTCCall(loopback=True)
    session = await connect(server.http_url, credentials=server.api_key, transport=call)
    live = server.app.state.rtagents.calls[call.call_id]
    await live.end(1000, "bye")
    await asyncio.wait_for(_until_closed(session), 5)
    assert session.closed
    await session.close()
    assert call.pc is not None and call.pc.connectionState == "closed"
    assert [chunk async for chunk in call.audio()] == []


async def _until_closed(session: object) -> None:
    async for _ in session:  # type: ignore[attr-defined]
        pass


async def test_refusals_carry_the_servers_words(server: RunningServer) -> None:
    call = WebRTCCall(loopback=True)
    with pytest.raises(ConnectionFailure) as refused:
        await connect(server.http_url, credentials="sk-wrong", transport=call)
    assert "401" in refused.value.message and "Incorrect API key" in refused.value.message
    assert refused.value.code == "invalid_api_key"
    assert call.pc is not None and call.pc.connectionState == "closed"
    with pytest.raises(ConnectionFailure) as sending:
        await call.send_audio(b"\0\0")
    assert sending.value.code == "not_connected"


def test_calls_url_follows_the_documented_endpoint() -> None:
    assert calls_url("wss://api.openai.com/v1/realtime?model=gpt-realtime") == (
        "https://api.openai.com/v1/realtime/calls"
    )
    assert calls_url("http://127.0.0.1:8000/v1/realtime/calls") == (
        "http://127.0.0.1:8000/v1/realtime/calls"
    )
    assert calls_url("ws://host") == "http://host/v1/realtime/calls"


async def test_a_late_hang_up_of_an_old_call_leaves_the_next_call_alone(
    server: RunningServer,
) -> None:
    """A reconnect opens a new call with the same opener while the lost one is still closing."""
    call = WebRTCCall(loopback=True, session=PTT)
    headers = {"Authorization": f"Bearer {server.api_key}"}
    old = await call(server.http_url, headers, 5)
    new = await call(server.http_url, headers, 5)
    try:
        await old.close()
        await call.send_audio(bytes(960))  # the new call's track is still live
        queued = [call._received.get_nowait() for _ in range(call._received.qsize())]
        assert None not in queued  # and its audio was not ended
    finally:
        await new.close()
    await asyncio.wait_for(_drain(call), 5)  # the new call's end does end it


async def _drain(call: WebRTCCall) -> None:
    async for _ in call.audio():
        pass
