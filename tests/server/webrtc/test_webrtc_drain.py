"""A drain ends WebRTC calls too: each call once (not again as its session), then none is left."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from webrtc_peer import RawCall

from rtagents.engines.scripted import scripted_engines
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.drain import drain
from rtagents.server.serving import RunningServer, running_server

PTT = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, webrtc_loopback=True, call_connect_timeout_s=5.0)
    async with running_server(config, scripted_engines()) as running:
        yield running


async def test_drain_hangs_up_a_live_call_and_counts_it_once(server: RunningServer) -> None:
    state = server_state(server.app)
    call = await RawCall.open(server, session=PTT)
    try:
        await call.until("session.created")
        live = state.calls[call.call_id]
        closed = asyncio.Event()
        call.channel.on("close", closed.set)
        outcome = await drain(state, grace_s=10.0)
        await asyncio.wait_for(closed.wait(), 10)
    finally:
        await call.close()
    assert outcome.told == 1 and outcome.complete  # the call, not also its session host
    assert live.ended.is_set() and not state.calls and not state.sessions
