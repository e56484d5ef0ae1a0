"""Drain on a live server: sessions told to resume elsewhere (1012), new work refused clearly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rtagents.client.policy import Decision, decide_close
from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.drain import DRAIN_REASON, SERVICE_RESTART, StopSignals, drain
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.in_memory import MemoryServer
from rtagents.transports.base import TransportClosed

# Every answer streams for about a second, so a drain surely meets one running.
SLOW = Rule(when=lambda request: True, then=Say("one two three four five six", token_delay_s=0.2))


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    engines = scripted_engines([SLOW], vad=False)
    async with running_server(ServerConfig(port=0), engines) as running:
        yield running


def test_the_drain_close_code_is_one_the_client_resumes_on() -> None:
    assert decide_close(SERVICE_RESTART)[0] is Decision.RESUME


async def test_drain_closes_every_session_with_1012_and_refuses_new_work(
    server: RunningServer,
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    url = f"{server.ws_url}?model=gpt-realtime"
    async with (
        ws_connect(url, additional_headers=headers) as first,
        ws_connect(url, additional_headers=headers) as second,
    ):
        for ws in (first, second):
            assert json.loads(await ws.recv())["type"] == "session.created"
        outcome = await drain(server_state(server.app), grace_s=10.0)
        closes = []
        for ws in (first, second):
            with pytest.raises(ConnectionClosed):
                while True:
                    await ws.recv()
            closes.append((ws.close_code, ws.close_reason))
    assert closes == [(SERVICE_RESTART, DRAIN_REASON)] * 2
    assert outcome.told == 2 and outcome.complete

    with pytest.raises(InvalidStatus) as refused:
        await ws_connect(url, additional_headers=headers)
    assert refused.value.response.status_code == 503
    assert b"server_draining" in refused.value.response.body
    async with httpx.AsyncClient(base_url=server.http_url, headers=headers) as http:
        health = await http.get("/healthz")
        minted = await http.post("/v1/realtime/client_secrets", json={})
        call = await http.post(
            "/v1/realtime/calls", content=b"v=0", headers={"Content-Type": "application/sdp"}
        )
    assert (health.status_code, health.json()["status"]) == (503, "draining")
    for answer in (minted, call):
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "server_draining"
        assert answer.headers["Retry-After"] == "1"


async def test_a_session_in_the_middle_of_a_response_is_closed_once_the_response_ends(
    server: RunningServer,
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with ws_connect(f"{server.ws_url}?model=gpt-realtime", additional_headers=headers) as ws:
        await ws.recv()  # session.created
        await ws.send(json.dumps({"type": "response.create"}))
        while json.loads(await ws.recv())["type"] != "response.created":
            pass
        draining = asyncio.create_task(drain(server_state(server.app), grace_s=30.0))
        done = []
        with pytest.raises(ConnectionClosed):
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "response.done":
                    done.append(event["response"]["status"])
        assert ws.close_code == SERVICE_RESTART
        assert done == ["completed"]  # the answer ran to its end before the close
        assert (await draining).complete


async def test_a_session_that_got_past_the_door_as_the_drain_began_is_told_in_a_later_round(
    server: RunningServer,
) -> None:
    state = server_state(server.app)
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with ws_connect(f"{server.ws_url}?model=gpt-realtime", additional_headers=headers) as ws:
        await ws.recv()  # session.created
        await ws.send(json.dumps({"type": "response.create"}))
        while json.loads(await ws.recv())["type"] != "response.created":
            pass
        draining = asyncio.create_task(drain(state, grace_s=30.0))
        await asyncio.sleep(0)  # the first round starts, waiting for the answer to end
        # A host that never met the door's check, as one whose handshake was already
        # past it when the drain began (the memory opener has no door at all).
        opener = MemoryServer(state)
        late = await opener.open()
        try:
            with pytest.raises(TransportClosed) as closed:
                while True:
                    await late.recv()
            outcome = await draining
        finally:
            await opener.close()
        with pytest.raises(ConnectionClosed):
            while True:
                await ws.recv()
    assert (ws.close_code, closed.value.close_code) == (SERVICE_RESTART, SERVICE_RESTART)
    assert outcome.told == 2 and outcome.complete


def test_signals_first_sigterm_drains_then_sigint_or_a_second_sigterm_stops_now() -> None:
    signals = StopSignals(drain_grace_s=5.0)
    signals.on_term()
    assert signals.requested.is_set() and signals.draining and not signals.immediate.is_set()
    signals.on_term()
    assert signals.immediate.is_set()
    without_grace = StopSignals(drain_grace_s=0.0)
    without_grace.on_term()
    assert without_grace.immediate.is_set()
    interrupted = StopSignals(drain_grace_s=5.0)
    interrupted.on_interrupt()
    assert interrupted.immediate.is_set() and not interrupted.draining
