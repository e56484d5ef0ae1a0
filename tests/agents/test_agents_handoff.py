"""``handoff()``: tool names, input types and the on_handoff callback."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from agents_kit import Recorder, runner_for, scripted_server
from pydantic import BaseModel

from rtagents.agents import Agent, RunContext, handoff, reachable
from rtagents.agents.agent import default_tool_name
from rtagents.engines.scripted import CallTool, Rule
from rtagents.protocol.errors import ToolError


class Reason(BaseModel):
    reason: str


def test_default_names_and_descriptions() -> None:
    assert default_tool_name("Haiku Writer") == "transfer_to_haiku_writer"
    assert default_tool_name("returns-agent v2") == "transfer_to_returns_agent_v2"
    target: Agent[None] = Agent(name="Sales", handoff_description="Sells things.")
    made = handoff(target)
    assert made.tool_name == "transfer_to_sales" and made.agent_name == "Sales"
    assert made.tool_description.endswith("Sells things.")
    assert made.definition()["parameters"]["properties"] == {}
    with pytest.raises(TypeError, match="on_handoff"):
        handoff(target, input_type=Reason)


def test_reachable_visits_a_cycle_once() -> None:
    a: Agent[None] = Agent(name="A")
    b: Agent[None] = Agent(name="B")
    a.handoffs.append(b)
    b.handoffs.append(handoff(a))
    assert reachable(a) == [a, b]


async def test_input_types_are_validated_and_passed_to_on_handoff() -> None:
    got: list[Any] = []

    @dataclass
    class Escalation:
        level: int

    async def on_escalate(ctx: RunContext[Any], value: Escalation) -> None:
        got.append(value)

    made = handoff(Agent(name="Human"), on_handoff=on_escalate, input_type=Escalation)
    assert made.input_json_schema["required"] == ["level"]
    await made.invoke(RunContext(None), '{"level": 2}')
    assert got == [Escalation(2)]
    with pytest.raises(ToolError, match="invalid input"):
        await made.invoke(RunContext(None), '{"level": "high"}')


async def test_a_handoff_with_bad_input_stays_on_the_same_agent() -> None:
    reasons: list[str] = []
    human: Agent[None] = Agent(name="Human", instructions="Human now.")
    first: Agent[None] = Agent(
        name="Bot",
        handoffs=[
            handoff(human, on_handoff=lambda ctx, r: reasons.append(r.reason), input_type=Reason)
        ],
    )
    rules = [
        Rule(when="good", then=CallTool("transfer_to_human", {"reason": "angry"})),
        Rule(when="bad", then=CallTool("transfer_to_human", {"why": 1})),
    ]
    async with scripted_server(rules) as server:
        session = await runner_for(server, first).run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("bad")
            (end,) = await recorder.count("tool_end", 1)
            assert "reason" in json.loads(end.output)["error"]
            assert session.current_agent is first and recorder.of("handoff") == []
            await recorder.count("agent_end", 2)
            await session.send_text("good")
            await recorder.count("handoff", 1)
            assert session.current_agent is human and reasons == ["angry"]
        await recorder.stop()
