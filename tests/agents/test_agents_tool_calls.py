"""Calls of an agent session: approvals, rejections, timeouts, unknown tools, barge-in."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from agents_kit import recorded_session

from rtagents.agents import Agent, ToolContext, function_tool
from rtagents.agents import tool_calls as calls_module
from rtagents.engines.scripted import CallTool, Rule

refunds: list[str] = []


@function_tool(needs_approval=True)
async def refund(order: str) -> str:
    """Refund an order.

    Args:
        order: The order id.
    """
    refunds.append(order)
    return f"refunded {order}"


def _agent() -> Agent[Any]:
    return Agent(name="Support", instructions="Help.", tools=[refund])


async def test_a_call_waits_for_approval_and_runs_once_approved() -> None:
    refunds.clear()
    async with recorded_session(_agent()) as (session, recorder):
        await session.send_text("refund please")
        (asked,) = await recorder.count("tool_approval_required", 1)
        assert asked.tool is refund and json.loads(asked.arguments) == {"order": "A1"}
        assert session.calls.pending_approvals == [asked.call_id]
        assert refunds == []
        assert await session.approve(asked.call_id)
        assert not await session.approve(asked.call_id)  # decided once
        (end,) = await recorder.count("tool_end", 1)
        assert end.output == "refunded A1" and refunds == ["A1"]
        await recorder.count("agent_end", 2)


async def test_a_rejected_call_tells_the_model_why_and_never_runs() -> None:
    refunds.clear()
    async with recorded_session(_agent()) as (session, recorder):
        await session.send_text("refund please")
        (asked,) = await recorder.count("tool_approval_required", 1)
        assert await session.reject(asked.call_id, "not today")
        (end,) = await recorder.count("tool_end", 1)
        assert "rejected" in json.loads(end.output)["error"]
        assert "not today" in end.output and refunds == []
        await recorder.count("agent_end", 2)


async def test_always_approve_skips_the_question_next_time() -> None:
    refunds.clear()
    async with recorded_session(_agent()) as (session, recorder):
        await session.send_text("refund please")
        (asked,) = await recorder.count("tool_approval_required", 1)
        await session.approve(asked.call_id, always=True)
        await recorder.count("agent_end", 2)
        await session.send_text("another refund")
        await recorder.count("tool_end", 2)
        assert len(recorder.of("tool_approval_required")) == 1
        assert refunds == ["A1", "A1"]


async def test_timeouts_failures_and_unknown_tools_become_outputs() -> None:
    @function_tool(timeout=0.05)
    async def slow() -> str:
        """Never answers in time."""
        await asyncio.sleep(10)
        return "late"

    @function_tool
    def broken() -> str:
        """Raises."""
        raise RuntimeError("disk on fire")

    rules = [
        Rule(when="slow", then=CallTool("slow")),
        Rule(when="broken", then=CallTool("broken")),
        Rule(when="ghost", then=CallTool("ghost")),
    ]
    agent = Agent(name="A", tools=[slow, broken])
    async with recorded_session(agent, rules=rules) as (session, recorder):
        for n, text in enumerate(["slow", "broken", "ghost"], start=1):
            await session.send_text(text)
            await recorder.count("agent_end", 2 * n)
        codes = [e.error.code for e in recorder.of("error")]
        assert codes == ["tool_timeout", "tool_failed", "unknown_tool"]
        outputs = [i.output for i in session.history if i.type == "function_call_output"]
        assert "timed out" in outputs[0] and "disk on fire" in outputs[1]
        assert "no tool 'ghost'" in outputs[2]


async def test_a_tool_gets_its_call_context_and_is_enabled_hides_it() -> None:
    seen: list[tuple[str, str, Any]] = []

    @function_tool
    def whoami(ctx: ToolContext[str]) -> str:
        """Says who calls."""
        seen.append((ctx.tool_name, ctx.call_id, ctx.context))
        return "ok"

    @function_tool(is_enabled=lambda ctx, agent: ctx.context == "admin")
    def secret() -> str:
        """Hidden from non-admins."""
        return "s"

    assert "ctx" not in json.dumps(whoami.params_json_schema)
    agent = Agent(name="A", tools=[whoami, secret])
    rules = [
        Rule(when="who", then=CallTool("whoami")),
        Rule(when="secret", then=CallTool("secret")),
    ]
    async with recorded_session(agent, context="guest", rules=rules) as (session, recorder):
        assert [t.name for t in session.client.config.tools] == ["whoami"]
        await session.send_text("who am i")
        (end,) = await recorder.count("tool_end", 1)
        assert seen == [("whoami", end.call_id, "guest")]
        await recorder.count("agent_end", 2)
        await session.send_text("secret please")  # the model calls it anyway
        (refused,) = await recorder.count("error", 1)
        assert refused.error.code == "unknown_tool" and "disabled" in refused.error.message


async def test_a_call_left_waiting_does_not_keep_every_later_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(calls_module, "REMEMBERED_CALLS", 2)

    @function_tool
    def get_weather(city: str) -> str:
        """Weather."""
        return f"sunny in {city}"

    agent: Agent[None] = Agent(name="Support", tools=[refund, get_weather])
    async with recorded_session(agent) as (session, recorder):
        await session.send_text("refund please")
        (asked,) = await recorder.count("tool_approval_required", 1)
        await recorder.count("agent_end", 1)
        for n in range(1, 4):
            await session.send_text("weather please")
            await recorder.count("agent_end", 1 + 2 * n)
        newest = recorder.of("tool_end")[-1].call_id
        assert list(session.calls._calls) == [asked.call_id, newest]  # the limit holds
        assert session.calls.pending_approvals == [asked.call_id]  # still waiting
