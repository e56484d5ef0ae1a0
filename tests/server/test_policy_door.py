"""The gateway policy at the door: models, per-key quotas, secrets, calls and session length.

A real server on loopback; refusals happen before the upgrade (an HTTP status
and the JSON ``error`` body), quotas are given back when sessions end, and
the window and the session length run on a FakeClock, never on wall time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from server_harness import TIMEOUT_S, mint, session, wait_following_progress
from websockets.exceptions import InvalidStatus

from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.policy.table import Policy
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.clock import FakeClock
from rtagents.transports.base import GOING_AWAY


@asynccontextmanager
async def gateway(policy: Policy, **config: Any) -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0, policy=policy, **config)) as running:
        yield running


async def refusal(opening: Any) -> tuple[int, dict[str, Any], httpx.Headers | Any]:
    """The HTTP status, JSON error and headers a refused WebSocket handshake got."""
    with pytest.raises(InvalidStatus) as refused:
        async with opening:
            pass
    response = refused.value.response
    return response.status_code, json.loads(response.body)["error"], response.headers


async def until(condition: Callable[[], bool]) -> None:
    """Wait (following progress, not wall time) until ``condition`` holds."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - the quota book has no event to wait on
            await asyncio.sleep(0.01)

    await wait_following_progress(poll(), TIMEOUT_S)


async def test_a_model_outside_the_policy_is_refused_before_the_upgrade() -> None:
    async with gateway(Policy(allowed_models=("gpt-realtime",))) as server:
        status, error, _ = await refusal(session(server, query="model=gpt-4o-realtime-preview"))
        assert (status, error["code"], error["param"]) == (403, "model_not_allowed", "model")
        assert "'gpt-4o-realtime-preview'" in error["message"]
        assert "policy.allowed_models: 'gpt-realtime'" in error["message"]
        async with session(server) as client:  # the allowed model opens
            assert client is not None


async def test_concurrent_sessions_are_capped_per_key_and_given_back_at_the_end() -> None:
    async with gateway(Policy(concurrent_sessions=1)) as server:
        quotas = server_state(server.app).gateway.quotas
        async with session(server):
            status, error, headers = await refusal(session(server))
            assert (status, error["code"]) == (429, "concurrent_session_quota_exceeded")
            assert "policy.concurrent_sessions = 1" in error["message"]
            assert headers["Retry-After"] == "1"
            # Another principal (a secret) has its own count.
            secret = (await mint(server)).json()["value"]
            async with session(server, key=secret):
                assert quotas.open_sessions("api_key") == 1
        await until(lambda: quotas.open_sessions("api_key") == 0)
        assert quotas.tracked() == 0  # nothing kept for principals with nothing open
        async with session(server):
            assert quotas.open_sessions("api_key") == 1


async def test_sessions_per_window_refuse_then_open_again_when_the_window_moves() -> None:
    clock = FakeClock()
    policy = Policy(sessions_per_window=2, quota_window_s=60)
    async with gateway(policy, clock=clock, sleep=clock.sleep) as server:
        for _ in range(2):
            async with session(server):
                pass
        status, error, headers = await refusal(session(server))
        assert (status, error["code"]) == (429, "session_quota_exceeded")
        assert "opened 2 sessions in the last 60 s" in error["message"]
        assert headers["Retry-After"] == "60"
        clock.advance(60)
        async with session(server):
            pass


async def test_a_refused_handshake_spends_no_quota_and_no_secret() -> None:
    """The quota is taken after the model check, the secret's use after the quota."""
    policy = Policy(allowed_models=("gpt-realtime",), sessions_per_window=1)
    async with gateway(policy) as server:
        secret = (await mint(server)).json()["value"]
        await refusal(session(server, key=secret, query="model=other"))
        async with session(server, key=secret):  # its one session is still there
            pass


async def test_a_secret_request_is_screened_and_the_secret_carries_the_forced_fields() -> None:
    policy = Policy(
        allowed_models=("gpt-realtime",),
        allowed_functions=("lookup_order",),
        instructions_prefix="Rules. ",
        forced_fields={"max_output_tokens": 300},
    )
    async with gateway(policy) as server:
        wrong_model = await mint(server, {"session": {"type": "realtime", "model": "other"}})
        assert wrong_model.status_code == 400
        assert wrong_model.json()["error"]["param"] == "session.model"
        tool = {"type": "function", "name": "drop_tables", "parameters": {"type": "object"}}
        wrong_tool = await mint(server, {"session": {"type": "realtime", "tools": [tool]}})
        assert wrong_tool.status_code == 400
        assert wrong_tool.json()["error"]["code"] == "tool_not_allowed"
        minted = await mint(server, {"session": {"type": "realtime", "instructions": "Hi."}})
        bound = minted.json()["session"]
        assert (bound["instructions"], bound["max_output_tokens"]) == ("Rules. Hi.", 300)
        async with session(server, key=minted.json()["value"], greet=False) as client:
            created = (await client.recv()).session
        assert (created.instructions, created.max_output_tokens) == ("Rules. Hi.", 300)


async def test_a_session_ends_at_the_policy_length_saying_which_setting() -> None:
    clock = FakeClock()
    async with gateway(Policy(max_session_s=30), clock=clock, sleep=clock.sleep) as server:
        async with session(server, greet=False) as client:
            created = await client.recv()
            assert created.session.expires_at == int(clock() + 30)
            await client.recv()  # conversation.created
            await clock.until_sleeping(1)
            clock.advance(30)
            notice = (await client.recv()).error
            assert notice.code == "session_expired"
            assert "30 seconds (policy.max_session_s)" in notice.message
            await client.ws.wait_closed()
            assert client.ws.close_code == GOING_AWAY


async def test_a_webrtc_call_is_screened_and_counted_until_it_ends() -> None:
    aiortc = pytest.importorskip("aiortc")
    from rtagents.transports.webrtc import loopback_candidates
    from rtagents.transports.webrtc_audio import PacedAudioTrack

    pc = aiortc.RTCPeerConnection()
    pc.createDataChannel("oai-events")
    pc.addTrack(PacedAudioTrack())
    with loopback_candidates():
        await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    policy = Policy(allowed_models=("gpt-realtime",), concurrent_sessions=1)
    try:
        async with gateway(policy, webrtc_loopback=True) as server:
            headers = {"Authorization": f"Bearer {server.api_key}"}
            async with httpx.AsyncClient(base_url=server.http_url, headers=headers) as http:
                files = {
                    "sdp": (None, offer.encode(), "application/sdp"),
                    "session": (
                        None,
                        b'{"type": "realtime", "model": "other"}',
                        "application/json",
                    ),
                }
                wrong = await http.post("/v1/realtime/calls", files=files)
                assert (wrong.status_code, wrong.json()["error"]["code"]) == (
                    400,
                    "model_not_allowed",
                )
                sdp = {"content": offer, "headers": {"Content-Type": "application/sdp"}}
                first = await http.post("/v1/realtime/calls", **sdp)
                assert first.status_code == 201
                second = await http.post("/v1/realtime/calls", **sdp)
                error = second.json()["error"]
                assert (second.status_code, error["code"]) == (
                    429,
                    "concurrent_session_quota_exceeded",
                )
                hangup = await http.post(first.headers["Location"] + "/hangup")
                assert hangup.status_code == 200
                quotas = server_state(server.app).gateway.quotas
                await until(lambda: quotas.open_sessions("api_key") == 0)
                third = await http.post("/v1/realtime/calls", **sdp)
                assert third.status_code == 201
    finally:
        await pc.close()
