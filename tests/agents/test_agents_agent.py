"""``Agent``: its session config, clone, the session a tool sees, and the bounded event queue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from rtagents.agents import Agent, AgentSession, RunContext, function_tool, handoff
from rtagents.agents.agent import LiveSession
from rtagents.agents.event_queue import EventQueue
from rtagents.agents.session_owner import SessionOwner
from rtagents.client import SessionConnector

NOT_FOR_TOOLS = {"start", "close", "calls", "guardrails"}
"""AgentSession's public members a tool's context leaves out: the app opens and closes the
session, and the parts it owns are reached through it, not by a tool."""


@function_tool
def ping() -> str:
    """Ping."""
    return "pong"


async def test_the_session_config_holds_only_what_an_agent_owns() -> None:
    other = Agent(name="Other")
    agent = Agent(
        name="Main",
        instructions="Be kind.",
        tools=[ping],
        handoffs=[other, handoff(other, tool_name_override="go_other", is_enabled=False)],
        voice="sage",
        prompt={"id": "pmpt_1"},
    )
    config = await agent.session_config(RunContext(None), voice=True)
    assert config == {
        "type": "realtime",
        "instructions": "Be kind.",
        "tools": [ping.definition(), agent.handoff_list()[0].definition()],
        "tool_choice": "auto",
        "audio": {"output": {"voice": "sage"}},
        "prompt": {"id": "pmpt_1"},
    }
    assert "audio" not in await agent.session_config(RunContext(None), voice=False)
    bare = await Agent(name="Bare").session_config(RunContext(None), voice=True)
    assert bare["instructions"] == ""
    prompted = Agent(name="P", prompt={"id": "pmpt_2"})
    assert "instructions" not in await prompted.session_config(RunContext(None), voice=True)


async def test_clone_copies_lists_and_keeps_the_agents_they_name() -> None:
    other = Agent(name="Other")
    agent: Agent[Any] = Agent(name="A", instructions="x", tools=[ping], handoffs=[other])
    copy = agent.clone(instructions="y")
    copy.tools.append(ping)
    assert len(agent.tools) == 1 and copy.handoffs[0] is other
    assert await copy.get_instructions(RunContext(None)) == "y"
    assert repr(copy) == "<Agent 'A'>"


async def test_the_event_queue_is_bounded_and_ends() -> None:
    queue = EventQueue(capacity=2)
    for n in range(3):
        queue.push(n)
    assert queue.dropped == 1
    queue.end()
    queue.push(99)  # after the end: ignored
    assert [await queue.get(), await queue.get()] == [1, 2]
    with pytest.raises(StopAsyncIteration):
        await queue.get()
    with pytest.raises(ValueError, match="capacity"):
        EventQueue(0)


def _never_opened(config: Mapping[str, Any]) -> SessionConnector:
    raise AssertionError("this session is only looked at, never started")


def _declared(protocol: type) -> set[str]:
    """The members a protocol class itself declares (methods, properties, attributes)."""
    names = set(vars(protocol)) | set(getattr(protocol, "__annotations__", {}))
    return {name for name in names if not name.startswith("_")}


async def test_a_tool_sees_every_member_an_app_uses_of_the_session() -> None:
    """``ToolContext.session`` is typed :class:`LiveSession` (agent.py cannot import the
    session's module, which is built on it): the protocol must not drift from the class."""
    session = AgentSession(Agent(name="A"), open_client=_never_opened, context=None)
    public = {name for name in dir(session) if not name.startswith("_")}
    for_tools, for_parts = _declared(LiveSession), _declared(SessionOwner)
    assert for_tools <= public and for_parts <= public  # each member exists on the class
    assert public - for_tools - for_parts == NOT_FOR_TOOLS  # and nothing app-facing is missing
    assert not for_tools & NOT_FOR_TOOLS and not for_parts & NOT_FOR_TOOLS
