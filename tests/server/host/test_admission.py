"""The connection cap: WebSocket sessions and WebRTC calls counted together, 503 past it.

The server cases use a real server on loopback with a cap of one, a stock
``websockets`` client, and a real aiortc offer for the calls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import httpx
import pytest
from aiortc import RTCPeerConnection
from server_harness import wait_following_progress
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from rtagents.engines.scripted import scripted_engines
from rtagents.server.app import server_state
from rtagents.server.auth import Refusal
from rtagents.server.config import ServerConfig
from rtagents.server.host.admission import RETRY_AFTER_S, Admission
from rtagents.server.host.limits import Limits
from rtagents.server.serving import RunningServer, running_server
from rtagents.transports.webrtc import loopback_candidates, rtc_configuration

# --- the count alone --------------------------------------------------------------------


def test_slots_are_counted_and_refused_past_the_limit() -> None:
    admission = Admission(2)
    first, second = admission.take(), admission.take()
    with pytest.raises(Refusal) as refused:
        admission.take()
    assert refused.value.status == 503 and refused.value.code == "too_many_connections"
    assert refused.value.headers["Retry-After"] == str(RETRY_AFTER_S)
    assert "limits.concurrent_connections = 2" in refused.value.message
    first.release()
    first.release()  # twice gives back one place, not two
    assert admission.open == 1
    with admission.take():
        assert admission.open == 2
    second.release()
    assert admission.open == 0


def test_an_untaken_slot_releases_nothing() -> None:
    admission = Admission(1)
    held = admission.take()
    spare = admission.slot()
    with pytest.raises(Refusal):
        spare.take()
    spare.release()
    assert admission.open == 1
    held.release()


async def test_a_held_call_is_counted_until_it_ends() -> None:
    admission = Admission(1)
    admission.check()
    ended = asyncio.Event()
    admission.hold_until(ended)
    with pytest.raises(Refusal):
        admission.check()
    ended.set()
    await until(lambda: admission.open == 0)
    admission.check()


# --- on a server ------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(
        port=0,
        limits=Limits(concurrent_connections=1),
        webrtc_loopback=True,
        call_connect_timeout_s=30.0,  # the call below never connects; the test hangs it up
    )
    async with running_server(config, scripted_engines()) as running:
        yield running


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 (server state that has no event to wait on)
            await asyncio.sleep(0.01)

    await wait_following_progress(poll())


def _auth(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


async def _refused_websocket(server: RunningServer) -> Answer | None:
    """The refusal of one more WebSocket, or None if it was accepted."""
    try:
        async with connect(server.ws_url, additional_headers=_auth(server)):
            return None
    except InvalidStatus as exc:
        response = exc.response
        return Answer(response.status_code, response.headers, bytes(response.body or b""))


async def _post_call(server: RunningServer, sdp: str) -> Answer:
    headers = {**_auth(server), "Content-Type": "application/sdp"}
    async with httpx.AsyncClient() as http:
        posted = await http.post(
            f"{server.http_url}/v1/realtime/calls", content=sdp, headers=headers
        )
    return Answer(posted.status_code, posted.headers, posted.content)


async def _offer() -> str:
    pc = RTCPeerConnection(rtc_configuration())
    pc.createDataChannel("oai-events")
    pc.addTransceiver("audio")
    with loopback_candidates():
        await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def _assert_too_many(response: Answer | None) -> None:
    assert response is not None, "accepted past the connection cap"
    assert response.status == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_S)
    error = json.loads(response.body)["error"]
    assert error["code"] == "too_many_connections"
    assert "limits.concurrent_connections = 1" in error["message"]


async def test_a_websocket_past_the_cap_gets_503_before_the_upgrade(server: RunningServer) -> None:
    admission = server_state(server.app).admission
    async with connect(server.ws_url, additional_headers=_auth(server)) as first:
        await first.recv()  # session.created: it is open
        _assert_too_many(await _refused_websocket(server))
        _assert_too_many(await _post_call(server, await _offer()))
        assert admission.open == 1  # the refusals took nothing
    await until(lambda: admission.open == 0)
    assert await _refused_websocket(server) is None  # its place is free again


async def test_a_call_holds_its_place_until_it_is_hung_up(server: RunningServer) -> None:
    admission = server_state(server.app).admission
    answered = await _post_call(server, await _offer())
    assert answered.status == 201
    assert admission.open == 1
    _assert_too_many(await _refused_websocket(server))
    async with httpx.AsyncClient() as http:
        hung_up = await http.post(
            f"{server.http_url}{answered.headers['Location']}/hangup", headers=_auth(server)
        )
    assert hung_up.status_code == 200
    await until(lambda: admission.open == 0)
    assert await _refused_websocket(server) is None
