"""Shared by the agents tests: a scripted rtagents server and a recorder of agent events."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from rtagents.agents import Agent, AgentSession, Runner
from rtagents.client import ReconnectPolicy
from rtagents.engines.scripted import CallTool, Rule, Say, scripted_engines
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.host.session_host import SessionHost
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.faults import FaultProxy
from rtagents.transports.base import Transport
from rtagents.transports.websocket import connect_websocket

TEXT = {"type": "realtime", "output_modalities": ["text"]}
AUDIO = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {"input": {"turn_detection": None}},
}
FAST = ReconnectPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05, rollover_margin=None)
BAD_REPLY = "this reply says the forbidden word " + "again and again " * 12
RULES = [
    Rule(when=re.compile("bad weather"), then=CallTool("get_weather", {"town": 3})),
    Rule(when=re.compile("weather"), then=CallTool("get_weather", {"city": "Paris"})),
    Rule(when=re.compile("haiku"), then=CallTool("transfer_to_haiku_writer")),
    Rule(when=re.compile("back to greeter"), then=CallTool("transfer_to_greeter")),
    Rule(when=re.compile("refund"), then=CallTool("refund", {"order": "A1"})),
    Rule(when=re.compile("forbidden"), then=Say(BAD_REPLY)),
]


@asynccontextmanager
async def scripted_server(
    rules: list[Rule] | None = None, *, webrtc: bool = False, **config: Any
) -> AsyncIterator[RunningServer]:
    engines = scripted_engines(RULES if rules is None else rules, vad=False)
    settings = ServerConfig(port=0, webrtc_loopback=webrtc, **config)
    async with running_server(settings, engines) as server:
        yield server


@asynccontextmanager
async def proxy_to(server: RunningServer, **options: Any) -> AsyncIterator[FaultProxy]:
    """A :class:`FaultProxy` in front of ``server``'s port (``options`` go to the proxy)."""
    port = urlsplit(server.ws_url).port
    assert port is not None
    async with FaultProxy(("127.0.0.1", port), **options) as proxy:
        yield proxy


def host_of(server: RunningServer, session: AgentSession[Any]) -> SessionHost:
    """The server's side of ``session`` (its conversation and config)."""
    return next(h for h in server_state(server.app).sessions if h.id == session.client.session_id)


async def fast_opener(url: str, headers: Mapping[str, str], open_timeout: float) -> Transport:
    """A WebSocket whose keepalive notices a stalled connection within a second."""
    return await connect_websocket(
        url,
        headers=headers,
        open_timeout=open_timeout,
        ping_interval=0.1,
        ping_timeout=0.3,
        close_timeout=0.1,
    )


def runner_for(server: RunningServer, agent: Agent[Any], **options: Any) -> Runner[Any]:
    options.setdefault("config", TEXT)
    return Runner(
        agent,
        url=server.ws_url,
        credentials=server.api_key,
        model="gpt-realtime",
        reconnect=options.pop("reconnect", FAST),
        **options,
    )


@asynccontextmanager
async def recorded_session(
    agent: Agent[Any], rules: list[Rule] | None = None, **options: Any
) -> AsyncIterator[tuple[AgentSession[Any], Recorder]]:
    """``agent``'s session on a scripted server (``rules``), with a recorder of its events;
    the recorder is drained once the session has closed."""
    async with scripted_server(rules) as server:
        session = await runner_for(server, agent, **options).run()
        async with session:
            recorder = Recorder(session)
            yield session, recorder
        await recorder.stop()


class Recorder:
    """Reads every agent event in the background, so tests wait on what they expect."""

    def __init__(self, session: AgentSession[Any]) -> None:
        self.events: list[Any] = []
        self._task = asyncio.create_task(self._read(session))

    async def _read(self, session: AgentSession[Any]) -> None:
        async for event in session:
            self.events.append(event)

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]

    async def wait(self, check: Callable[[], bool], what: str, limit_s: float = 20.0) -> None:
        deadline = time.monotonic() + limit_s
        while not check():
            if time.monotonic() > deadline:
                kinds = [e.type for e in self.events if e.type != "raw_model_event"]
                raise AssertionError(f"timed out waiting for {what}; saw {kinds}")
            await asyncio.sleep(0.01)

    async def count(self, kind: str, n: int, limit_s: float = 20.0) -> list[Any]:
        await self.wait(lambda: len(self.of(kind)) >= n, f"{n} {kind} event(s)", limit_s)
        return self.of(kind)

    async def stop(self) -> None:
        await asyncio.wait({self._task}, timeout=10)
