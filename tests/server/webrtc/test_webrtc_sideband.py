"""Sideband WebSockets (``?call_id=``) attached to a live WebRTC call."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from aiortc import RTCPeerConnection
from webrtc_peer import RawCall
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rtagents.engines.scripted import scripted_engines
from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.protocol.errors import Category, classify_error_payload
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

PTT = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, webrtc_loopback=True)
    async with running_server(config, scripted_engines()) as running:
        yield running


@pytest.fixture
async def call(server: RunningServer) -> AsyncIterator[RawCall]:
    opened = await RawCall.open(server, session=PTT)
    await opened.until("conversation.created")
    try:
        yield opened
    finally:
        await opened.close()


def _sideband_url(server: RunningServer, call_id: str) -> str:
    return f"{server.ws_url}?call_id={call_id}"


async def _next(ws: object, event_type: str) -> object:
    while True:
        event = decode_server_event(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[attr-defined]
        if event.type == event_type:  # type: ignore[union-attr]
            return event


async def test_a_sideband_sees_the_call_and_steers_it(server: RunningServer, call: RawCall) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with connect(_sideband_url(server, call.call_id), additional_headers=headers) as ws:
        await asyncio.sleep(0.05)  # attached before the events below
        update = {"type": "session.update", "session": {**PTT, "instructions": "From the backend."}}
        await ws.send(encode_event(update))
        on_sideband = await _next(ws, "session.updated")
        on_call = (await call.until("session.updated"))[-1]
        assert on_sideband.session.instructions == on_call.session.instructions  # type: ignore[attr-defined]
        assert on_call.session.instructions == "From the backend."
        # The caller's own events reach the sideband too.
        await call.send({"type": "conversation.item.create", "item": _user_text("hi")})
        added = await _next(ws, "conversation.item.added")
        assert added.item.content[0].text == "hi"  # type: ignore[attr-defined]
        await ws.send(encode_event({"type": "response.create"}))
        done = await _next(ws, "response.done")
        assert done.response.status == "completed"  # type: ignore[attr-defined]
        assert (await call.until("response.done"))[-1].response.id == done.response.id  # type: ignore[attr-defined]


async def test_the_sideband_learns_the_call_ended(server: RunningServer, call: RawCall) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with connect(_sideband_url(server, call.call_id), additional_headers=headers) as ws:
        await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as http:
            await http.post(
                f"{server.http_url}/v1/realtime/calls/{call.call_id}/hangup", headers=headers
            )
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1000
    assert closed.value.rcvd.reason == "call ended: the call was hung up"


async def test_the_sideband_learns_the_caller_left(server: RunningServer, call: RawCall) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with connect(_sideband_url(server, call.call_id), additional_headers=headers) as ws:
        await asyncio.sleep(0.05)
        await call.close()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    # The channel's close or the connection's, whichever the server sees first.
    assert closed.value.rcvd.reason.startswith("call ended: the peer closed the")


async def test_closing_the_sideband_leaves_the_call_running(
    server: RunningServer, call: RawCall
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with connect(_sideband_url(server, call.call_id), additional_headers=headers):
        await asyncio.sleep(0.05)
    await call.send({"type": "conversation.item.create", "item": _user_text("still here")})
    assert (await call.until("conversation.item.done"))[-1].item.content[0].text == "still here"


async def test_unknown_calls_and_client_secrets_are_refused_before_accept(
    server: RunningServer, call: RawCall
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    with pytest.raises(InvalidStatus) as unknown:
        async with connect(_sideband_url(server, "rtc_unknown"), additional_headers=headers):
            pass
    assert unknown.value.response.status_code == 404
    assert b"rtc_unknown" in unknown.value.response.body
    async with httpx.AsyncClient() as http:
        minted = await http.post(
            f"{server.http_url}/v1/realtime/client_secrets", json={}, headers=headers
        )
    secret = {"Authorization": f"Bearer {minted.json()['value']}"}
    with pytest.raises(InvalidStatus) as refused:
        async with connect(_sideband_url(server, call.call_id), additional_headers=secret):
            pass
    assert refused.value.response.status_code == 403


def _user_text(text: str) -> dict[str, object]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_a_connection_failure_is_reported_on_the_sideband(
    server: RunningServer, call: RawCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    live = server.app.state.rtagents.calls[call.call_id]
    async with connect(_sideband_url(server, call.call_id), additional_headers=headers) as ws:
        await asyncio.sleep(0.05)
        # ICE consent takes ~30 s to fail for real; the state change is what the call sees.
        monkeypatch.setattr(RTCPeerConnection, "connectionState", property(lambda _: "failed"))
        live.pc.emit("connectionstatechange")
        error = await _next(ws, "error")
        assert error.error.code == "webrtc_connection_failed"  # type: ignore[attr-defined]
        assert "failed at data channel" in error.error.message  # type: ignore[attr-defined]
        category = classify_error_payload(error.error.type, error.error.code)  # type: ignore[attr-defined]
        assert category is Category.CONNECTION
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.reason.startswith("call ended")
    await asyncio.wait_for(live.ended.wait(), 5)
    monkeypatch.undo()
    assert not server.app.state.rtagents.calls


async def test_events_too_large_for_the_channel_are_replaced_by_an_error(
    server: RunningServer, call: RawCall
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    audio = base64.b64encode(bytes(24_000 * 2 * 6)).decode()  # 6 s: ~384 KB as base64
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": audio}]}
    async with connect(_sideband_url(server, call.call_id), additional_headers=headers) as ws:
        await asyncio.sleep(0.05)
        await ws.send(encode_event({"type": "conversation.item.create", "item": item}))
        added = await _next(ws, "conversation.item.done")
        item_id = added.item.id  # type: ignore[attr-defined]
        await call.send({"type": "conversation.item.retrieve", "item_id": item_id})
        full = await _next(ws, "conversation.item.retrieved")  # the sideband has no such limit
        assert full.item.content[0].audio  # type: ignore[attr-defined]
    error = (await call.until("error"))[-1]
    assert error.error.code == "message_too_large"
    assert "conversation.item.retrieved" in error.error.message and "262144" in error.error.message
