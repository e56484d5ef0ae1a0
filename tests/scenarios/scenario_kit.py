"""Shared by the scenario tests: a scripted server with the scenario's rules, and a played call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from rtagents.agents import Runner
from rtagents.client import ReconnectPolicy
from rtagents.client.webrtc_call import WebRTCCall
from rtagents.scenarios import SCENARIOS, ServerLink
from rtagents.scenarios.player import Approve, ScenarioPlayer, TurnLog, approve_all
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

AUDIO_OUT = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {"input": {"turn_detection": None}},
}
FAST = ReconnectPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05, rollover_margin=None)


@dataclass
class Played:
    turns: list[TurnLog]
    errors: list[str]
    context: Any
    raw_errors: list[Any]

    def steps(self, kind: str) -> list[str]:
        return [s.text for t in self.turns for s in t.steps if s.kind == kind]

    def tools(self) -> list[str]:
        return [s.data["name"] for t in self.turns for s in t.steps if s.kind == "tool"]


@asynccontextmanager
async def scenario_server(name: str, *, webrtc: bool = False) -> AsyncIterator[RunningServer]:
    rules = str(SCENARIOS[name].rules_file)
    config = ServerConfig(port=0, scenario_rules=rules, webrtc_loopback=webrtc)
    async with running_server(config) as server:
        yield server


async def play(
    server: RunningServer,
    name: str,
    call_index: int = 0,
    *,
    webrtc: bool = False,
    approve: Approve = approve_all,
) -> Played:
    """One scripted call of scenario ``name`` over WebSocket or WebRTC, with text input."""
    scenario = SCENARIOS[name]
    agent = scenario.build(ServerLink(server.http_url, server.api_key))
    context = scenario.new_context()
    runner = Runner(
        agent,
        url=server.http_url if webrtc else server.ws_url,
        credentials=server.api_key,
        model="gpt-realtime",
        transport=WebRTCCall(loopback=True) if webrtc else "websocket",
        reconnect=FAST,
        context=context,
        config=AUDIO_OUT,
    )
    session = await runner.run()
    raw_errors: list[Any] = []
    async with session:
        player = ScenarioPlayer(session, approve=approve, turn_timeout_s=60.0)
        try:
            for line in scenario.calls[call_index].lines:
                await player.say(line)
        finally:
            await player.close()
    return Played(player.turns, player.errors, context, raw_errors)
