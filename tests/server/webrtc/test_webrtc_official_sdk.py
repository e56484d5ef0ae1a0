"""The official ``openai`` client on a WebRTC call: it creates the call and steers it by sideband.

The Python SDK has no WebRTC media stack of its own: it posts the offer
(``client.realtime.calls.create``) and attaches a sideband WebSocket to the
call (``client.realtime.connect(call_id=…)``), which is how a backend uses it
next to a browser. An aiortc peer plays the browser. Every event, on the
call's ``oai-events`` channel and on the sideband, is validated against the
SDK's own ``RealtimeServerEvent`` union.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from openai import AsyncOpenAI
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter
from webrtc_peer import RawCall, make_offer

from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.transports.webrtc import rtc_configuration

WAIT_S = 60  # generous: ICE, DTLS and a loaded 2-core CI machine
LONG_REPLY = " ".join(["This reply keeps playing until the backend clears it."] * 4)
SERVER_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, webrtc_loopback=True)
    async with running_server(config, scripted_engines([Rule("talk", Say(LONG_REPLY))])) as running:
        yield running


async def _channel_until(call: RawCall, event_type: str) -> Any:
    async with asyncio.timeout(WAIT_S):
        while True:
            event = SERVER_EVENTS.validate_json(await call.recv_raw())
            if event.type == event_type:
                return event


async def _sideband_until(sideband: Any, event_type: str) -> Any:
    async with asyncio.timeout(WAIT_S):
        while True:
            event = SERVER_EVENTS.validate_json(await sideband.recv_bytes())
            if event.type == event_type:
                return event


@pytest.mark.conformance(
    "session.created",
    "conversation.item.create",
    "response.create",
    "response.done",
    "output_audio_buffer.started",
    "output_audio_buffer.clear",
    "output_audio_buffer.cleared",
    "instructions",
    status="supported",
    client="openai",
    transport="webrtc",
    note="call made with calls.create; events sent on the SDK's call_id sideband",
)
async def test_the_official_sdk_creates_a_call_and_steers_it_by_sideband(
    server: RunningServer,
) -> None:
    pc = RTCPeerConnection(rtc_configuration())
    channel, track = await make_offer(pc)
    call = RawCall(pc, channel, track)
    sdk = AsyncOpenAI(api_key=server.api_key, base_url=f"{server.http_url}/v1", max_retries=0)
    try:
        answer = await sdk.realtime.calls.create(
            sdp=pc.localDescription.sdp,
            session={"type": "realtime", "instructions": "Be brief."},
        )
        call.call_id = answer.response.headers["location"].rsplit("/", 1)[-1]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
        created = await _channel_until(call, "session.created")
        assert created.session.instructions == "Be brief."
        async with sdk.realtime.connect(call_id=call.call_id) as sideband:
            await sideband.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "talk to me"}],
                }
            )
            await sideband.response.create()
            started = await _channel_until(call, "output_audio_buffer.started")
            await sideband.output_audio_buffer.clear()
            cleared = await _channel_until(call, "output_audio_buffer.cleared")
            assert cleared.response_id == started.response_id
            done = await _sideband_until(sideband, "response.done")
            assert done.response.id == started.response_id
    finally:
        await sdk.close()
        await call.close()
