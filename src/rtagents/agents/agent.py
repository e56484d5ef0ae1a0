"""An agent: instructions, tools, handoffs and guardrails, and the session config they make."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeAlias

from .context import RunContext, TContext
from .handoff import Handoff, handoff
from .tool import FunctionTool, resolve_flag

if TYPE_CHECKING:
    from .guardrail import OutputGuardrail

Instructions: TypeAlias = (
    "str | Callable[[RunContext[Any], Agent[Any]], str | Awaitable[str]] | None"
)


@dataclass(eq=False)
class Agent(Generic[TContext]):
    """A voice agent, named like openai-agents' ``RealtimeAgent`` so ports are mechanical.

    ``instructions`` is a string or a callable (sync or async) of the run
    context and the agent. ``handoffs`` holds agents or :func:`handoff` s and
    may form cycles. ``voice`` applies when the agent becomes active before any
    audio was produced (the protocol fixes the voice after that). ``prompt`` is
    the GA stored-prompt reference (``{"id": ..., "variables": ...}``).
    """

    name: str
    instructions: Instructions = None
    tools: list[FunctionTool] = field(default_factory=list)
    handoffs: list[Agent[Any] | Handoff] = field(default_factory=list)
    output_guardrails: list[OutputGuardrail] = field(default_factory=list)
    handoff_description: str | None = None
    voice: str | None = None
    prompt: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<Agent {self.name!r}>"

    def clone(self, **changes: Any) -> Agent[TContext]:
        """A copy with ``changes`` (lists are copied, agents they name are shared)."""
        copy = dataclasses.replace(self, **changes)
        copy.tools, copy.handoffs = list(copy.tools), list(copy.handoffs)
        copy.output_guardrails = list(copy.output_guardrails)
        return copy

    async def get_instructions(self, ctx: RunContext[Any]) -> str:
        if self.instructions is None or isinstance(self.instructions, str):
            return self.instructions or ""
        result = self.instructions(ctx, self)
        if inspect.isawaitable(result):
            result = await result
        return str(result)

    def handoff_list(self) -> list[Handoff]:
        return [h if isinstance(h, Handoff) else handoff(h) for h in self.handoffs]

    async def enabled_tools(self, ctx: RunContext[Any]) -> list[FunctionTool]:
        return [t for t in self.tools if await resolve_flag(t.is_enabled, ctx, self)]

    async def enabled_handoffs(self, ctx: RunContext[Any]) -> list[Handoff]:
        return [h for h in self.handoff_list() if await resolve_flag(h.is_enabled, ctx, self)]

    async def session_config(self, ctx: RunContext[Any], *, voice: bool) -> dict[str, Any]:
        """The ``session.update`` body that makes this agent the active one.

        Only what an agent owns is set (instructions, tools, voice, prompt), so
        audio formats and turn detection stay as the session had them.
        """
        tools = [t.definition() for t in await self.enabled_tools(ctx)]
        tools += [h.definition() for h in await self.enabled_handoffs(ctx)]
        config: dict[str, Any] = {"type": "realtime", "tools": tools, "tool_choice": "auto"}
        if self.instructions is not None or self.prompt is None:
            config["instructions"] = await self.get_instructions(ctx)  # else the prompt's own
        if voice and self.voice:
            config["audio"] = {"output": {"voice": self.voice}}
        if self.prompt is not None:
            config["prompt"] = self.prompt
        return config


def reachable(root: Agent[Any]) -> list[Agent[Any]]:
    """Every agent reachable from ``root`` through handoffs (cycles visited once)."""
    seen: dict[int, Agent[Any]] = {}
    stack = [root]
    while stack:
        agent = stack.pop()
        if id(agent) in seen:
            continue
        seen[id(agent)] = agent
        stack.extend(h.agent for h in agent.handoff_list())
    return list(seen.values())
