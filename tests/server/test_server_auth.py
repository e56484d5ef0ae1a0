"""What an ``ek_`` secret may open: its own model only, and a bounded number of sessions.

Issue 11, hole 5: a secret minted for ``gpt-realtime`` opened
``?model=some-other-model``, and one secret opened five sessions at once.
Every test runs against a real server on loopback; WebRTC calls (a real
aiortc offer) count against a secret like WebSocket sessions.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from server_harness import mint, session
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import Limits
from rtagents.server.serving import RunningServer, running_server
from rtagents.transports.webrtc import loopback_candidates


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0)) as running:
        yield running


async def minted(server: RunningServer, model: str = "gpt-realtime") -> str:
    reply = await mint(server, {"session": {"type": "realtime", "model": model}})
    assert reply.status_code == 200, reply.text
    value: str = reply.json()["value"]
    return value


async def refused(server: RunningServer, secret: str, query: str) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {secret}"}
    with pytest.raises(InvalidStatus) as caught:
        async with connect(f"{server.ws_url}?{query}", additional_headers=headers):
            pass
    response = caught.value.response
    error: dict[str, Any] = json.loads(response.body or b"")["error"]
    return response.status_code, error


@asynccontextmanager
async def call(
    server: RunningServer, secret: str, query: str = ""
) -> AsyncIterator[httpx.Response]:
    """POST a real offer (events channel + audio) with ``secret``; hang up and close after."""
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    try:
        pc.createDataChannel("oai-events")
        pc.addTransceiver("audio")
        with loopback_candidates():
            await pc.setLocalDescription(await pc.createOffer())
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            reply = await http.post(
                f"/v1/realtime/calls{query}",
                content=pc.localDescription.sdp.encode(),
                headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/sdp"},
            )
            yield reply
            if reply.status_code == 201:
                await http.post(
                    f"{reply.headers['Location']}/hangup",
                    headers={"Authorization": f"Bearer {server.api_key}"},
                )
    finally:
        await pc.close()


async def test_a_secret_refuses_another_model_naming_both(server: RunningServer) -> None:
    secret = await minted(server)
    status, error = await refused(server, secret, "model=some-other-model")
    assert (status, error["code"], error["param"]) == (403, "model_mismatch", "model")
    assert "'gpt-realtime'" in error["message"] and "'some-other-model'" in error["message"]
    # the refusal spent nothing: the secret still opens its own model
    async with session(server, key=secret, query="model=gpt-realtime", greet=False) as client:
        created = await client.recv()
    assert created.session.model == "gpt-realtime"


async def test_the_refused_model_is_quoted_escaped(server: RunningServer) -> None:
    secret = await minted(server)
    _, error = await refused(server, secret, "model=evil%0AFORGED" + "x" * 5000)
    assert "\n" not in error["message"] and "\\n" in error["message"]
    assert len(error["message"]) < 1000


async def test_without_a_model_the_secret_opens_its_own(server: RunningServer) -> None:
    secret = await minted(server, "gpt-realtime-mini")
    async with session(server, key=secret, query="", greet=False) as client:
        created = await client.recv()
    assert created.session.model == "gpt-realtime-mini"


async def test_a_secret_opens_one_session_by_default(server: RunningServer) -> None:
    secret = await minted(server)
    async with session(server, key=secret):
        status, error = await refused(server, secret, "model=gpt-realtime")
        assert (status, error["code"]) == (403, "secret_already_used")
        assert "limits.sessions_per_secret" in error["message"]
    status, error = await refused(server, secret, "model=gpt-realtime")  # closed: still used
    assert error["code"] == "secret_already_used"
    async with session(server):  # the API key is not a secret: no such bound
        pass


async def test_sessions_per_secret_is_configurable() -> None:
    config = ServerConfig(port=0, limits=Limits(sessions_per_secret=3))
    async with running_server(config) as server:
        secret = await minted(server)
        for _ in range(3):
            async with session(server, key=secret):
                pass
        status, error = await refused(server, secret, "model=gpt-realtime")
        assert (status, error["code"]) == (403, "secret_already_used")
        assert "already opened 3 session(s)" in error["message"]


async def test_a_webrtc_call_counts_against_the_secret(server: RunningServer) -> None:
    secret = await minted(server)
    async with call(server, secret) as answered:
        assert answered.status_code == 201, answered.text
    status, error = await refused(server, secret, "model=gpt-realtime")
    assert (status, error["code"]) == (403, "secret_already_used")
    used = await minted(server)
    async with session(server, key=used):
        async with call(server, used) as again:
            assert again.status_code == 403
            assert again.json()["error"]["code"] == "secret_already_used"


async def test_a_webrtc_call_refuses_another_model(server: RunningServer) -> None:
    secret = await minted(server)
    async with call(server, secret, "?model=some-other-model") as reply:
        assert reply.status_code == 403
        error = reply.json()["error"]
    assert error["code"] == "model_mismatch" and "'some-other-model'" in error["message"]
