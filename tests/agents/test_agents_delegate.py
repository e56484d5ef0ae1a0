"""``delegate()``: filler at once, a supervisor with its own tools, deadline and barge-in.

The supervisor is a real Chat Completions endpoint: the rtagents server's own
``/v1/chat/completions`` on the scripted model, so it runs offline.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from agents_kit import Recorder, runner_for
from supervisor_kit import lookup_order, lookups, offers

from rtagents.agents import Agent, SupervisorToolCall, ToolContext, function_tool
from rtagents.agents.chat import ChatModel
from rtagents.agents.delegate import delegate
from rtagents.engines.base import LLMRequest
from rtagents.engines.scripted import CallTool, Rule, Say, scripted_engines, scripted_speech
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

FILLER = "One moment, let me check that for you."


RULES = [
    Rule(when=lambda r: r.instructions.startswith("Say exactly"), then=Say(FILLER)),
    Rule(when=offers("ask_supervisor"), then=CallTool("ask_supervisor", {"request": "order A1"})),
    Rule(when=offers("lookup_order"), then=CallTool("lookup_order", {"order": "A1"})),
    Rule(when=offers("slow_lookup"), then=CallTool("slow_lookup", {})),
]


@function_tool
async def slow_lookup() -> str:
    """Takes forever."""
    await asyncio.sleep(30)
    return "late"


def _junior(server: RunningServer, *tools: Any, deadline_s: float = 20.0) -> Agent[Any]:
    supervisor = ChatModel(f"{server.http_url}/v1", "gpt-4.1", api_key=server.api_key)
    ask = delegate(
        supervisor, instructions="You are the supervisor.", tools=tools, deadline_s=deadline_s
    )
    return Agent(name="Junior", instructions="Greet, then ask the supervisor.", tools=[ask])


async def test_the_junior_fills_while_the_supervisor_uses_its_tools() -> None:
    lookups.clear()
    async with running_server(ServerConfig(port=0), scripted_engines(RULES, vad=False)) as server:
        session = await runner_for(server, _junior(server, lookup_order)).run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("where is my order")
            (end,) = await recorder.count("tool_end", 1)
            assert end.error is None and "shipped" in end.output and lookups == ["A1"]
            await recorder.count("agent_end", 3)  # the call, the filler, the answer
            finals = [e.text for e in recorder.of("transcript") if e.final]
            assert finals[0] == FILLER
            assert "shipped" in finals[-1]
        await recorder.stop()


async def test_a_supervisor_past_its_deadline_is_cut_off_and_the_model_told() -> None:
    async with running_server(ServerConfig(port=0), scripted_engines(RULES, vad=False)) as server:
        agent = _junior(server, slow_lookup, deadline_s=0.5)
        session = await runner_for(server, agent).run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("where is my order")
            (end,) = await recorder.count("tool_end", 1)
            assert "did not answer within 0.5 s" in json.loads(end.output)["error"]
            await recorder.count("agent_end", 3)
        await recorder.stop()


async def test_a_barge_in_cancels_the_supervisor_cleanly() -> None:
    vad = {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": {"type": "server_vad", "create_response": False}}},
    }
    async with running_server(ServerConfig(port=0), scripted_engines(RULES)) as server:
        session = await runner_for(server, _junior(server, slow_lookup), config=vad).run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("where is my order")
            await recorder.count("tool_start", 1)
            await session.send_audio(scripted_speech("stop") + bytes(48_000))
            (end,) = await recorder.count("tool_end", 1)
            assert "barge-in" in json.loads(end.output)["error"]
            assert session.calls.runs and not session.calls.pending_approvals
        await recorder.stop()


def test_delegate_checks_its_limits() -> None:
    with pytest.raises(ValueError, match="deadline_s"):
        delegate(ChatModel("http://127.0.0.1:9/v1", "m"), instructions="x", deadline_s=0)
    with pytest.raises(ValueError, match="history"):
        delegate(ChatModel("http://127.0.0.1:9/v1", "m"), instructions="x", history=-1)
    with pytest.raises(ValueError, match="'two words'"):
        delegate(ChatModel("http://127.0.0.1:9/v1", "m"), instructions="x", argument="two words")
    with pytest.raises(ValueError, match="max_tokens"):
        ChatModel("http://127.0.0.1:9/v1", "m", max_tokens=0)


seen: list[LLMRequest] = []


def _seen(request: LLMRequest) -> bool:
    seen.append(request)
    return False  # only watches: the rules below answer


SHAPED_RULES = [
    Rule(when=_seen, then=Say("unused")),
    Rule(when=lambda r: r.instructions.startswith("Filler line:"), then=Say("Hold on.")),
    Rule(when=offers("ask"), then=CallTool("ask", {"question": "order A1"})),
    Rule(when=offers("lookup_order"), then=CallTool("lookup_order", {"order": "A1"})),
]


async def test_a_shaped_delegate_says_its_filler_out_of_band_and_reports_its_tool_calls() -> None:
    lookups.clear()
    seen.clear()
    traced: list[SupervisorToolCall] = []

    def trace(ctx: ToolContext[Any], call: SupervisorToolCall) -> None:
        traced.append(call)
        raise RuntimeError("a broken hook")  # logged; the answer still comes

    config = ServerConfig(port=0)
    async with running_server(config, scripted_engines(SHAPED_RULES, vad=False)) as server:
        model = ChatModel(f"{server.http_url}/v1", "m", api_key=server.api_key, max_tokens=77)
        ask = delegate(
            model,
            instructions="You are the supervisor.",
            tools=[lookup_order],
            name="ask",
            argument="question",
            argument_description="The caller's question.",
            filler="Hold on.",
            filler_instructions="Filler line: repeat the user's words.",
            history=0,
            on_tool_call=trace,
        )
        assert ask.params_json_schema["required"] == ["question"]
        junior: Agent[Any] = Agent(name="Junior", instructions="Ask.", tools=[ask])
        session = await runner_for(server, junior).run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("where is my order")
            (end,) = await recorder.count("tool_end", 1)
            assert end.error is None and "shipped" in end.output
            await recorder.count("agent_end", 3)
            assert [e.text for e in recorder.of("transcript") if e.final][0] == "Hold on."
            items = session.client.conversation.items
            said = [session.client.conversation.transcript(i.id) for i in items if i.id]
            assert "Hold on." not in said  # heard, never in the history
        await recorder.stop()
    assert [(c.name, json.loads(c.arguments)) for c in traced] == [
        ("lookup_order", {"order": "A1"})
    ]
    assert "shipped" in traced[0].output and traced[0].call_id
    filler = next(r for r in seen if r.instructions.startswith("Filler line:"))
    assert not filler.tools and [m.content for m in filler.messages] == ["Hold on."]
    asked = next(r for r in seen if any(t.name == "lookup_order" for t in r.tools))
    assert asked.messages[-1].content == "order A1"  # history=0: the argument alone
    assert asked.max_output_tokens == 77
