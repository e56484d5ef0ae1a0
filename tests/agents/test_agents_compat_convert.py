"""``from_openai_agents``: a RealtimeAgent graph (with a cycle) runs as rtagents agents."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("agents.realtime", reason="the openai-agents extra is not installed")

from agents.realtime import RealtimeAgent, realtime_handoff  # noqa: E402
from agents_kit import Recorder, runner_for, scripted_server  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from agents import (  # noqa: E402
    GuardrailFunctionOutput,
    OutputGuardrail,
    RunContextWrapper,
    function_tool,
)
from rtagents.agents.compat import from_openai_agents  # noqa: E402
from rtagents.engines.scripted import CallTool, Rule, Say  # noqa: E402


class Escalation(BaseModel):
    reason: str


def _graph(log: list[str]) -> RealtimeAgent[Any]:
    @function_tool
    def get_weather(city: str) -> str:
        """Today's weather."""
        log.append(f"weather:{city}")
        return f"sunny in {city}"

    @function_tool(needs_approval=lambda ctx, params, call_id: params.get("order") == "A1")
    def refund(order: str) -> str:
        """Refund an order."""
        log.append(f"refund:{order}")
        return "done"

    def no_shouting(ctx: RunContextWrapper[Any], agent: Any, text: str) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(output_info="LOUD", tripwire_triggered="SHOUT" in text)

    async def on_escalate(ctx: RunContextWrapper[Any], value: Escalation) -> None:
        log.append(f"escalated:{value.reason}:{ctx.context}")

    human = RealtimeAgent(name="Human", instructions=lambda ctx, agent: f"Human for {ctx.context}.")
    support = RealtimeAgent(
        name="Support",
        instructions="Help.",
        tools=[get_weather, refund],
        output_guardrails=[OutputGuardrail(guardrail_function=no_shouting, name="calm")],
        handoffs=[realtime_handoff(human, on_handoff=on_escalate, input_type=Escalation)],
    )
    human.handoffs.append(support)  # a cycle
    return support


def test_the_graph_keeps_names_schemas_and_its_cycle() -> None:
    support = from_openai_agents(_graph([]))
    assert [t.name for t in support.tools] == ["get_weather", "refund"]
    assert support.tools[0].params_json_schema["required"] == ["city"]
    (to_human,) = support.handoff_list()
    assert to_human.tool_name == "transfer_to_human"
    assert to_human.input_json_schema["required"] == ["reason"]
    human = to_human.agent
    assert human.handoff_list()[0].agent is support  # the same object: the cycle kept
    assert support.output_guardrails[0].get_name() == "calm"


RULES = [
    Rule(when=lambda r: r.messages[-1].role == "system", then=Say("Sorry.")),
    Rule(when="weather", then=CallTool("get_weather", {"city": "Oslo"})),
    Rule(when="refund", then=CallTool("refund", {"order": "A1"})),
    Rule(when="shout", then=Say("I SHOUT " * 20)),
    Rule(when="human", then=CallTool("transfer_to_human", {"reason": "angry"})),
]


async def test_tools_approvals_guardrails_and_handoffs_run_as_in_openai_agents() -> None:
    log: list[str] = []
    support = from_openai_agents(_graph(log))
    async with scripted_server(RULES) as server:
        session = await runner_for(server, support, context="Ada").run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("weather?")
            (end,) = await recorder.count("tool_end", 1)
            assert end.output == "sunny in Oslo"
            await recorder.count("agent_end", 2)
            await session.send_text("refund please")
            (asked,) = await recorder.count("tool_approval_required", 1)
            await session.approve(asked.call_id)
            await recorder.count("tool_end", 2)
            await recorder.count("agent_end", 4)
            await session.send_text("shout at me")
            (trip,) = await recorder.count("guardrail_tripped", 1)
            assert trip.names == ["calm"] and trip.results[0].output.output_info == "LOUD"
            await recorder.count("agent_end", 6)
            await session.send_text("get me a human")
            (switch,) = await recorder.count("handoff", 1)
            assert switch.to_agent.name == "Human"
            assert session.client.config.instructions == "Human for Ada."
            await recorder.count("agent_end", 8)
            outputs = [i.output for i in session.history if i.type == "function_call_output"]
            assert json.loads(outputs[-1]) == {"assistant": "Human"}
        await recorder.stop()
    assert log == ["weather:Oslo", "refund:A1", "escalated:angry:Ada"]
