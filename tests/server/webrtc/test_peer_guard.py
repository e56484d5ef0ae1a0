"""Failed and abandoned calls: contained, diagnosed to their sideband, ended in bounded time.

Timeouts are short here through the config; the tests wait for events, not
for the clock, and assert no wall-clock bounds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from webrtc_peer import RawCall, make_offer, no_background_errors, post_offer
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rtagents.engines.scripted import scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.local.session_config import default_config, validated
from rtagents.server.serving import RunningServer, running_server
from rtagents.server.webrtc.call import AnsweredCall, BadOffer
from rtagents.server.webrtc.peer_guard import with_max_message_size
from rtagents.transports.webrtc import rtc_configuration

PTT = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
WAIT_S = 20.0  # generous: a loaded CI machine; the server's own timeouts are 2 s


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(
        port=0, webrtc_loopback=True, call_connect_timeout_s=2.0, call_peer_timeout_s=2.0
    )
    async with running_server(config, scripted_engines()) as running:
        yield running


async def _offer() -> str:
    pc = RTCPeerConnection(rtc_configuration())
    await make_offer(pc)
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


async def _sideband(server: RunningServer, call_id: str) -> ClientConnection:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    return await connect(f"{server.ws_url}?call_id={call_id}", additional_headers=headers)


async def _until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every event the sideband gets until the server closes it."""
    events = []
    try:
        while True:
            events.append(json.loads(await asyncio.wait_for(ws.recv(), WAIT_S)))
    except ConnectionClosed:
        return events


def _vanish(pc: RTCPeerConnection) -> None:
    """The caller drops off the network: from now on nothing leaves it, no BYE, no ABORT."""
    connection = pc.sctp.transport.transport._connection
    for protocol in connection._protocols:
        protocol.send_stun = lambda *args, **kwargs: None

        async def drop(*args: Any, **kwargs: Any) -> None:
            return None

        protocol.send_data = drop


async def test_closing_after_aiortc_fails_to_answer_is_contained(server: RunningServer) -> None:
    state = server.app.state.rtagents
    config = validated(
        default_config("realtime", "gpt-realtime", vad_available=False), vad_available=False
    )
    broken = (await _offer()).replace("a=mid:0", "a=mid:7")  # what the endpoint would refuse
    async with no_background_errors():
        call = AnsweredCall(state, config)
        with pytest.raises(BadOffer) as refused:
            await call.answer(broken)  # aiortc's createAnswer and close() both raise inside
    assert "aiortc raised AttributeError" in str(refused.value)
    assert call.ended.is_set() and call.id not in state.calls


async def test_a_sideband_on_a_call_that_never_connects_is_told_why(server: RunningServer) -> None:
    reply = await post_offer(server, await _offer())  # the offering peer is already gone
    assert reply.status_code == 201
    call_id = reply.headers["location"].rsplit("/", 1)[-1]
    async with no_background_errors():
        ws = await _sideband(server, call_id)
        events = await _until_closed(ws)
    assert [e["type"] for e in events] == ["error"]
    error = events[0]["error"]
    assert error["code"] == "webrtc_connection_failed"
    assert "never connected within 2 s" in error["message"]
    assert ws.close_code == 1000 and (ws.close_reason or "").startswith("call ended:")
    assert call_id not in server.app.state.rtagents.calls


async def test_a_caller_that_vanishes_is_diagnosed_and_its_call_ended(
    server: RunningServer,
) -> None:
    async with no_background_errors():
        call = await RawCall.open(server, session=PTT)
        try:
            await call.until("conversation.created")
            ws = await _sideband(server, call.call_id)
            await asyncio.sleep(0.1)  # attached before the caller goes
            _vanish(call.pc)
            events = await _until_closed(ws)
        finally:
            await call.close()
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert [e["code"] for e in errors] == ["webrtc_connection_failed"]
    assert "went silent" in errors[0]["message"] and "call_peer_timeout_s" in errors[0]["message"]
    assert ws.close_reason == "call ended: the caller went silent"
    assert call.call_id not in server.app.state.rtagents.calls


async def test_a_live_quiet_caller_is_not_taken_for_gone(server: RunningServer) -> None:
    call = await RawCall.open(server, session=PTT)
    try:
        await call.until("conversation.created")
        live = server.app.state.rtagents.calls[call.call_id]
        await asyncio.sleep(3.0)  # past call_peer_timeout_s, saying nothing on the channel
        assert not live.ended.is_set()
        await call.send({"type": "session.update", "session": PTT})
        await call.until("session.updated")
    finally:
        await call.close()


def test_the_answer_advertises_the_limit_it_keeps() -> None:
    sdp = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=max-message-size:262144\r\n"
    assert with_max_message_size(sdp, 1000) == sdp.replace("262144", "1000")
