"""``rtagents.connect``: a sideband (``call_id=``) attached to a live WebRTC call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from rtagents import connect
from rtagents.client.webrtc_call import WebRTCCall
from rtagents.engines.scripted import scripted_engines
from rtagents.protocol.errors import ConnectionFailure
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

PTT = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, webrtc_loopback=True)
    async with running_server(config, scripted_engines()) as running:
        yield running


async def test_a_sideband_joins_the_call_and_steers_it(server: RunningServer) -> None:
    call = WebRTCCall(loopback=True, session=PTT)
    async with connect(server.http_url, credentials=server.api_key, transport=call) as caller:
        assert call.call_id is not None
        seen = asyncio.create_task(caller.wait_for("session.updated", timeout=10))
        backend = await connect(
            server.ws_url,
            credentials=server.api_key,
            call_id=call.call_id,
            session={"type": "realtime", "instructions": "From the backend."},
        )
        try:
            # The same session: its id and the config the sideband set, seen by the caller.
            assert backend.session_id == caller.session_id
            assert backend.config.instructions == "From the backend."
            assert (await seen).session.instructions == "From the backend."
            # The caller's item reaches the sideband; the sideband's response reaches the caller.
            added = asyncio.create_task(backend.wait_for("conversation.item.added", timeout=10))
            await caller.send_text("hi from the caller")
            assert (await added).item.content[0].text == "hi from the caller"
            on_caller = asyncio.create_task(caller.wait_for("response.done", timeout=10))
            done = asyncio.create_task(backend.wait_for("response.done", timeout=10))
            await backend.create_response(output_modalities=["text"])
            response = (await done).response
            assert response.output[0].content[0].text == "You said: hi from the caller"
            assert (await on_caller).response.id == response.id
        finally:
            await backend.close()
        # Closing the sideband leaves the call running.
        assert not caller.closed
        await caller.send_text("still here")


async def test_a_sideband_without_a_config_learns_the_calls(server: RunningServer) -> None:
    call = WebRTCCall(loopback=True, session={**PTT, "instructions": "Set by the caller."})
    async with connect(server.http_url, credentials=server.api_key, transport=call):
        assert call.call_id is not None
        async with connect(
            server.ws_url, credentials=server.api_key, call_id=call.call_id
        ) as backend:
            assert backend.config.instructions == "Set by the caller."
            assert backend.config.audio.input.turn_detection is None


async def test_an_unknown_call_is_refused(server: RunningServer) -> None:
    with pytest.raises(ConnectionFailure) as failed:
        await connect(
            server.ws_url, credentials=server.api_key, call_id="rtc_missing", open_timeout=5
        )
    assert "404" in str(failed.value) or "rtc_missing" in str(failed.value)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"model": "gpt-realtime"}, "not both"),
        ({"transport": "webrtc"}, "WebSocket"),
        ({"reconnect": True}, "does not reconnect"),
    ],
)
async def test_what_a_sideband_cannot_be_is_refused_before_connecting(
    extra: dict[str, object], says: str
) -> None:
    with pytest.raises(ConnectionFailure) as refused:
        connect("ws://127.0.0.1:9/v1/realtime", credentials="k", call_id="rtc_1", **extra)  # type: ignore[arg-type]
    assert says in str(refused.value)
    assert refused.value.code == "invalid_value"
