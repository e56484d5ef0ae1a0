"""``from_openai_agents``: an openai-agents ``RealtimeAgent`` graph as rtagents agents.

Each agent is converted once (a cycle of handoffs becomes the same cycle);
tools, handoffs and guardrails keep their names, schemas and callables, which
are called with openai-agents' own context types, so their code runs as is.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from agents.guardrail import OutputGuardrail as OAOutputGuardrail
from agents.handoffs import Handoff as OAHandoff
from agents.realtime import RealtimeAgent
from agents.tool_context import ToolContext as OAToolContext

from agents import FunctionTool as OAFunctionTool
from agents import RunContextWrapper

from ..agent import (
    Agent,
    FunctionTool,
    GuardrailFunctionOutput,
    Handoff,
    OutputGuardrail,
    ToolContext,
)
from ..arguments import resolve_flag
from ..context import RunContext

log = logging.getLogger("rtagents.agents.compat")
_EMPTY: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


def from_openai_agents(agent: RealtimeAgent[Any]) -> Agent[Any]:
    """The rtagents :class:`Agent` for ``agent``, with every agent reachable from it."""
    return _Converter().agent(agent)


class _Converter:
    def __init__(self) -> None:
        self._done: dict[int, Agent[Any]] = {}
        self._by_name: dict[str, RealtimeAgent[Any]] = {}

    def agent(self, source: RealtimeAgent[Any]) -> Agent[Any]:
        known = self._done.get(id(source))
        if known is not None:
            return known
        if not isinstance(source, RealtimeAgent):
            raise TypeError(f"expected a RealtimeAgent, got {type(source).__name__}")
        self._by_name.setdefault(source.name, source)
        target: Agent[Any] = Agent(
            name=source.name,
            instructions=_instructions(source),
            tools=[_tool(t, source) for t in source.tools],
            output_guardrails=[_guardrail(g, source) for g in source.output_guardrails],
            handoff_description=source.handoff_description,
            prompt=dict(source.prompt) if source.prompt else None,
        )
        self._done[id(source)] = target  # before the handoffs: cycles end here
        for entry in source.handoffs:
            if isinstance(entry, RealtimeAgent):
                self._by_name.setdefault(entry.name, entry)
        target.handoffs = [self._handoff(entry, source) for entry in source.handoffs]
        return target

    def _handoff(
        self, entry: RealtimeAgent[Any] | OAHandoff[Any, Any], owner: RealtimeAgent[Any]
    ) -> Agent[Any] | Handoff:
        if isinstance(entry, RealtimeAgent):
            return self.agent(entry)
        destination = _handoff_target(entry) or self._by_name.get(entry.agent_name)
        if destination is None:
            raise TypeError(
                f"cannot find the agent of handoff {entry.tool_name!r} ({entry.agent_name!r}); "
                "build it with agents.realtime.realtime_handoff(agent)"
            )
        invoke = entry.on_invoke_handoff

        async def on_invoke(ctx: RunContext[Any], arguments: str) -> None:
            await invoke(RunContextWrapper(ctx.context), arguments)

        schema = entry.input_json_schema or _EMPTY
        return Handoff(
            tool_name=entry.tool_name,
            tool_description=entry.tool_description,
            input_json_schema=dict(schema),
            agent=self.agent(destination),
            is_enabled=_enabled(entry.is_enabled, owner),
            on_invoke_handoff=on_invoke,
        )


def _handoff_target(entry: OAHandoff[Any, Any]) -> RealtimeAgent[Any] | None:
    """The agent a ``realtime_handoff`` leads to (held by its invoke function)."""
    functions: list[Any] = [entry.on_invoke_handoff]
    while functions:
        function = functions.pop()
        if isinstance(function, partial):
            functions.extend([function.func, *function.args])
            continue
        for cell in getattr(function, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if isinstance(value, RealtimeAgent) and value.name == entry.agent_name:
                return value
    return None


def _instructions(source: RealtimeAgent[Any]) -> Any:
    if source.instructions is None or isinstance(source.instructions, str):
        return source.instructions

    async def instructions(ctx: RunContext[Any], agent: Agent[Any]) -> str:
        return await source.get_system_prompt(RunContextWrapper(ctx.context)) or ""

    return instructions


def _tool(tool: Any, owner: RealtimeAgent[Any]) -> FunctionTool:
    if not isinstance(tool, OAFunctionTool):
        raise TypeError(
            f"agent {owner.name!r}: only function tools run in a realtime session, "
            f"got {type(tool).__name__}"
        )

    async def invoke(ctx: ToolContext[Any], arguments: str) -> Any:
        oa_ctx = OAToolContext(
            context=ctx.context,
            tool_name=tool.name,
            tool_call_id=ctx.call_id,
            tool_arguments=arguments,
        )
        return await tool.on_invoke_tool(oa_ctx, arguments)

    approval = tool.needs_approval

    async def needs_approval(ctx: RunContext[Any], params: dict[str, Any], call_id: str) -> bool:
        return await resolve_flag(approval, RunContextWrapper(ctx.context), params, call_id)

    return FunctionTool(
        name=tool.name,
        description=tool.description,
        params_json_schema=dict(tool.params_json_schema),
        on_invoke_tool=invoke,
        timeout_seconds=tool.timeout_seconds,
        needs_approval=needs_approval if callable(approval) else bool(approval),
        is_enabled=_enabled(tool.is_enabled, owner),
    )


def _enabled(flag: Any, owner: RealtimeAgent[Any]) -> Any:
    if not callable(flag):
        return bool(flag)

    async def enabled(ctx: RunContext[Any], agent: Agent[Any]) -> bool:
        return await resolve_flag(flag, RunContextWrapper(ctx.context), owner)

    return enabled


def _guardrail(guardrail: OAOutputGuardrail[Any], owner: RealtimeAgent[Any]) -> OutputGuardrail:
    async def check(ctx: RunContext[Any], agent: Agent[Any], text: str) -> GuardrailFunctionOutput:
        result = await guardrail.run(RunContextWrapper(ctx.context), owner, text)  # type: ignore[arg-type]
        return GuardrailFunctionOutput(
            tripwire_triggered=bool(result.output.tripwire_triggered),
            output_info=result.output.output_info,
        )

    return OutputGuardrail(guardrail_function=check, name=guardrail.get_name())
