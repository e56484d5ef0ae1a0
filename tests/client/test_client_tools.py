"""The tool runner against a real server whose scripted model calls tools.

The server is the real session host and pipeline reached over the memory
transport (:class:`~rtagents.testing.in_memory.MemoryServer`): the socket is
not what the tool runner's tests are about.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from scripted_peer import ScriptedPeer

from rtagents import connect
from rtagents.client import Session
from rtagents.client import tools as tools_module
from rtagents.engines.scripted import CallTool, Rule, scripted_engines
from rtagents.server.app import create_app, server_state
from rtagents.server.config import ServerConfig
from rtagents.testing.in_memory import MEMORY_URL, MemoryServer

RULES = [
    Rule(when=re.compile("weather"), then=CallTool("get_weather", {"city": "Paris"})),
    Rule(when=re.compile("slow"), then=CallTool("slow_tool", {})),
    Rule(when=re.compile("missing"), then=CallTool("no_such_tool", {})),
    Rule(when=re.compile("garbled"), then=CallTool("get_weather", "{not json")),
    Rule(when=re.compile("broken"), then=CallTool("broken_tool", {})),
    # A model's arguments nested past any parser's stack: refused, not a crashed runner.
    Rule(when=re.compile("nested"), then=CallTool("get_weather", "[" * 5000 + "]" * 5000)),
]
CITY = {"type": "object", "properties": {"city": {"type": "string"}}}


@pytest.fixture
async def server() -> AsyncIterator[MemoryServer]:
    app = create_app(ServerConfig(port=0), scripted_engines(RULES, vad=False))
    opener = MemoryServer(server_state(app))
    try:
        yield opener
    finally:
        await opener.close()


async def _session(server: MemoryServer, **kwargs: Any) -> Session:
    session = await connect(MEMORY_URL, credentials="sk-memory", transport=server.open, **kwargs)
    calls: list[str] = []

    @session.tools.register(parameters=CITY)
    async def get_weather(city: str) -> dict[str, str]:
        calls.append(city)
        return {"city": city, "forecast": "sunny"}

    @session.tools.register(timeout=0.05)
    async def slow_tool() -> str:
        await asyncio.sleep(10)
        return "never"

    @session.tools.register
    def broken_tool() -> str:
        raise RuntimeError("disk on fire")

    session.calls = calls  # type: ignore[attr-defined]
    config = {"type": "realtime", "output_modalities": ["text"]}
    await session.update_session({**config, "tools": session.tools.definitions()})
    return session


async def _output_after(session: Session, text: str) -> dict[str, Any]:
    """Say ``text``; return the parsed function_call_output the runner sent."""
    second = asyncio.create_task(_two_responses(session))
    await asyncio.sleep(0)
    await session.send_text(text)
    await session.create_response()
    await second
    [output] = [i for i in session.conversation.items if i.type == "function_call_output"][-1:]
    parsed: dict[str, Any] = json.loads(output.output)
    return parsed


async def _two_responses(session: Session) -> None:
    for _ in range(2):  # the call, then the answer the runner asked for
        await session.wait_for("response.done", timeout=10)


async def test_a_tool_runs_once_and_the_model_answers_with_its_output(
    server: MemoryServer,
) -> None:
    async with await _session(server) as session:
        output = await _output_after(session, "weather?")
        assert output == {"city": "Paris", "forecast": "sunny"}
        assert session.calls == ["Paris"]  # type: ignore[attr-defined]
        assert list(session.tools.runs.values()) == [1]
        kinds = [i.type for i in session.conversation.items]
        assert kinds == ["message", "function_call", "function_call_output", "message"]
        definitions = {d["name"]: d for d in session.tools.definitions()}
        assert definitions["get_weather"]["parameters"] == CITY


async def test_a_tool_past_its_deadline_tells_the_model_it_timed_out(
    server: MemoryServer,
) -> None:
    async with await _session(server) as session:
        output = await _output_after(session, "slow please")
        assert "timed out after 0.05 s" in output["error"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("missing tool", "there is no tool 'no_such_tool'"),
        ("garbled args", "not valid JSON"),
        ("nested args", "nested deeper than 201 levels"),
        ("broken", "RuntimeError: disk on fire"),
    ],
)
async def test_failures_become_outputs_the_model_can_read(
    server: MemoryServer, text: str, expected: str
) -> None:
    async with await _session(server) as session:
        output = await _output_after(session, text)
        assert expected in output["error"]


async def test_a_replayed_call_does_not_run_again(server: MemoryServer) -> None:
    async with await _session(server) as session:
        await _output_after(session, "weather?")
        [call] = [i for i in session.conversation.items if i.type == "function_call"]
        event = type("Done", (), {})()
        event.type = "response.function_call_arguments.done"  # type: ignore[attr-defined]
        event.call_id, event.name, event.arguments = call.call_id, "get_weather", "{}"  # type: ignore[attr-defined]
        session.tools.observe(event)
        await asyncio.sleep(0.05)
        assert session.calls == ["Paris"]  # type: ignore[attr-defined]


async def test_a_cancelled_response_cancels_its_tools(server: MemoryServer) -> None:
    async with await _session(server, tool_timeout=30.0) as session:
        started = asyncio.Event()

        @session.tools.register(name="slow_tool")
        async def patient() -> str:
            started.set()
            await asyncio.sleep(10)
            return "never"

        await session.send_text("slow please")
        await session.create_response()
        await asyncio.wait_for(started.wait(), 5)
        assert session.tools.running == 1
        session.tools.cancel_all("the user interrupted", send=True)
        output = await session.wait_for("conversation.item.done", timeout=5)
        assert "cancelled: the user interrupted" in output.item.output
        assert session.tools.running == 0


async def test_closing_cancels_running_tools(server: MemoryServer) -> None:
    session = await _session(server)
    started = asyncio.Event()

    @session.tools.register(name="slow_tool")
    async def patient() -> str:
        started.set()
        await asyncio.sleep(10)
        return "never"

    await session.send_text("slow please")
    await session.create_response()
    await asyncio.wait_for(started.wait(), 5)
    await session.close()
    assert not session._tasks


async def test_a_call_event_with_a_bad_field_still_gets_an_output(peer: ScriptedPeer) -> None:
    async with Session(peer.url, credentials="sk-test") as session:
        session.tools.register(lambda: "ok", name="ping")
        bad = {  # "name" is missing: the event is invalid, the call still needs an answer
            "type": "response.function_call_arguments.done",
            "call_id": "call_1",
            "arguments": "{}",
        }
        await peer.send(bad)
        created = await peer.next_event("conversation.item.create")
        assert created["item"]["call_id"] == "call_1"
        assert "there is no tool ''" in created["item"]["output"]


async def test_finished_calls_are_forgotten_past_their_bound(
    peer: ScriptedPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools_module, "CALLS_KEPT", 3)
    async with Session(peer.url, credentials="sk-test") as session:
        session.tools.register(lambda: "ok", name="ping")
        for number in range(10):
            call = {
                "type": "response.function_call_arguments.done",
                "response_id": "resp_1",
                "item_id": f"item_{number}",
                "output_index": 0,
                "call_id": f"call_{number}",
                "name": "ping",
                "arguments": "{}",
            }
            await peer.send(call)
            created = await peer.next_event("conversation.item.create")
            assert created["item"]["call_id"] == f"call_{number}"
        await asyncio.sleep(0)
        assert list(session.tools._calls) == ["call_7", "call_8", "call_9"]
        assert set(session.tools.runs) <= {"call_7", "call_8", "call_9"}
        assert set(session.tools.runs.values()) == {1}
