"""An agent switch that fails leaves no trace: a later rebuild applies the agent that is active.

The client remembers every ``session.update`` so that a rebuild (a fresh server
session, no resume) can restore the config. A switch the server refuses, or
one whose answer never comes, must not be in what it restores; one whose
answer died with the connection is restored and completes. Real server, real
sockets, faults from :class:`FaultProxy`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from agents_kit import AUDIO, TEXT, Recorder, fast_opener, host_of, proxy_to, scripted_server

from rtagents.agents import Agent, AgentSession, Runner, function_tool
from rtagents.client import EventTimeout, ReconnectPolicy
from rtagents.protocol.errors import RealtimeError
from rtagents.testing.faults import FaultProxy

REBUILD = ReconnectPolicy(
    max_attempts=6, base_delay=0.01, max_delay=0.05, rollover_margin=None, resume=False
)


@function_tool
def lookup(order: str) -> str:
    """Find an order.

    Args:
        order: The order id.
    """
    return f"{order}: shipped"


def _greeter() -> Agent[Any]:
    return Agent(name="Greeter", instructions="Greet.", tools=[lookup])


def _names(config: Any) -> list[str]:
    return [tool["name"] for tool in config.tools or []]


@asynccontextmanager
async def _session_via_proxy(
    agent: Agent[Any], **options: Any
) -> AsyncIterator[tuple[AgentSession[Any], FaultProxy, Any, asyncio.Queue[bool]]]:
    async with scripted_server() as server:
        async with proxy_to(server) as proxy:
            runner = Runner(
                agent,
                url=proxy.url(),
                credentials=server.api_key,
                reconnect=REBUILD,
                **{"config": TEXT, **options},
            )
            session = await runner.run()
            async with session:
                rebuilt: asyncio.Queue[bool] = asyncio.Queue()
                session.client.on("rtagents.resumed", lambda e: rebuilt.put_nowait(e.rebuilt))
                yield session, proxy, server, rebuilt


async def _rebuild(proxy: FaultProxy, rebuilt: asyncio.Queue[bool]) -> None:
    (await proxy.connection()).cut()
    # A fresh server session, restored by the client (no resume).
    assert await asyncio.wait_for(rebuilt.get(), 30) is True


async def test_a_refused_switch_is_not_what_a_rebuild_restores() -> None:
    # Two tools of one name: the server refuses the whole session.update.
    broken = Agent(name="Broken", instructions="Broken.", tools=[lookup, lookup])
    async with _session_via_proxy(_greeter()) as (session, proxy, server, rebuilt):
        recorder = Recorder(session)
        with pytest.raises(RealtimeError) as refused:
            await session.switch_agent(broken)
        assert refused.value.param == "session.tools[1].name"
        assert session.current_agent.name == "Greeter"
        await _rebuild(proxy, rebuilt)
        config = host_of(server, session).backend.config
        assert config.instructions == "Greet." and _names(config) == ["lookup"]
    await recorder.stop()
    assert not recorder.of("handoff")


async def test_a_switch_never_answered_is_not_what_a_rebuild_restores() -> None:
    haiku = Agent(name="Haiku Writer", instructions="Haikus only.")
    options = {"ack_timeout": 2.0}
    async with _session_via_proxy(_greeter(), **options) as (session, proxy, server, rebuilt):
        (await proxy.connection()).stall(direction="down")  # the answer never arrives
        with pytest.raises(EventTimeout):
            await session.switch_agent(haiku)
        assert session.current_agent.name == "Greeter"
        await _rebuild(proxy, rebuilt)
        config = host_of(server, session).backend.config
        assert config.instructions == "Greet." and _names(config) == ["lookup"]


async def test_a_switch_whose_answer_died_with_the_connection_completes_in_the_rebuild() -> None:
    haiku = Agent(name="Haiku Writer", instructions="Haikus only.")
    options = {"transport": fast_opener}  # the keepalive notices the stall within a second
    async with _session_via_proxy(_greeter(), **options) as (session, proxy, server, rebuilt):
        (await proxy.connection()).stall(direction="down")
        await session.switch_agent(haiku)  # answered by the rebuild that restored it
        assert rebuilt.get_nowait() is True and session.current_agent is haiku
        config = host_of(server, session).backend.config
        assert config.instructions == "Haikus only." and _names(config) == []
        await _rebuild(proxy, rebuilt)
        assert host_of(server, session).backend.config.instructions == "Haikus only."


async def test_a_refused_voice_is_not_what_a_rebuild_restores() -> None:
    haiku = Agent(name="Haiku Writer", instructions="Haikus only.", voice="coral")
    async with _session_via_proxy(_greeter(), config=AUDIO) as (session, proxy, server, rebuilt):
        recorder = Recorder(session)
        voice = session.client.config.audio.output.voice
        await session.send_text("hello")
        await recorder.count("agent_end", 1)
        session.audio_produced = False  # as if the audio had bypassed the events
        await session.switch_agent(haiku)  # the voice is refused, then sent without it
        assert session.current_agent is haiku
        await _rebuild(proxy, rebuilt)
        config = host_of(server, session).backend.config
        assert config.instructions == "Haikus only." and config.voice == voice != "coral"
    await recorder.stop()
