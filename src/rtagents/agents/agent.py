"""An agent and what it is made of: tools, handoffs, output guardrails, and the context they get.

These types refer to one another: an agent lists its tools, handoffs and
guardrails; a guardrail and a tool's ``is_enabled`` are called with the agent;
a handoff leads to one; a tool is called with a :class:`ToolContext` holding
the live session. So they are defined together, as data with the few methods
that read it, and the rest of the package depends on this module, never the
other way. Making them from plain functions is :func:`~.tool.function_tool`
and :func:`~.guardrail.output_guardrail`; running them is the session's.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeAlias

from pydantic import TypeAdapter

from .arguments import parse_input, resolve_flag
from .context import RunContext, TContext

if TYPE_CHECKING:
    from ..client import Session

Instructions: TypeAlias = (
    "str | Callable[[RunContext[Any], Agent[Any]], str | Awaitable[str]] | None"
)
ApprovalCheck: TypeAlias = Callable[
    [RunContext[Any], dict[str, Any], str], "bool | Awaitable[bool]"
]
"""``needs_approval`` as a callable: (context, parsed arguments, call_id) -> bool."""
EnabledCheck: TypeAlias = Callable[[RunContext[Any], "Agent[Any]"], "bool | Awaitable[bool]"]
"""``is_enabled`` as a callable: (context, agent) -> bool."""
Invoker: TypeAlias = Callable[["ToolContext[Any]", str], Awaitable[Any]]
OnHandoff: TypeAlias = Callable[..., "Awaitable[None] | None"]
"""``on_handoff(ctx)``, or ``on_handoff(ctx, input)`` when the handoff has an ``input_type``."""
GuardrailFunction: TypeAlias = Callable[
    [RunContext[Any], "Agent[Any]", str],
    "GuardrailFunctionOutput | Awaitable[GuardrailFunctionOutput]",
]

_EMPTY: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


@dataclass(slots=True)
class ToolContext(RunContext[TContext]):
    """The context of one tool call: which tool, which ``call_id``, and the live session
    (a tool may speak or send through it, as :func:`~.delegate.delegate` does)."""

    tool_name: str = ""
    call_id: str = ""
    arguments: str = "{}"
    session: LiveSession | None = None


class LiveSession(Protocol):
    """The live agent session as a tool's context holds it: the app's side of
    :class:`~.agent_session.AgentSession`, its one implementation (a protocol only
    because that module is built on this one)."""

    @property
    def context(self) -> Any: ...
    @property
    def run_context(self) -> RunContext[Any]: ...
    @property
    def current_agent(self) -> Agent[Any]: ...
    @property
    def client(self) -> Session: ...
    @property
    def history(self) -> list[Any]: ...
    async def send_text(self, text: str, *, respond: bool = True) -> None: ...
    async def send_audio(self, audio: bytes, *, commit: bool = False) -> None: ...
    def played(self, item_id: str, ms: float) -> float: ...
    async def interrupt(self) -> None: ...
    async def approve(self, call_id: str, *, always: bool = False) -> bool: ...
    async def reject(self, call_id: str, reason: str | None = None) -> bool: ...
    async def switch_agent(self, agent: Agent[Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A tool as the model sees it (name, description, schema) and how to run it.

    ``on_invoke_tool(ctx, arguments_json)`` runs it; ``timeout_seconds`` bounds
    it (None: the session's default); ``needs_approval`` pauses the call until
    the app approves or rejects it; ``is_enabled`` hides it from the model.
    """

    name: str
    description: str
    params_json_schema: dict[str, Any]
    on_invoke_tool: Invoker
    timeout_seconds: float | None = None
    needs_approval: bool | ApprovalCheck = False
    is_enabled: bool | EnabledCheck = True
    cancel_on_barge_in: bool = True
    """A barge-in cancels the call (its output then says so); approvals keep waiting."""

    def definition(self) -> dict[str, Any]:
        """The entry of ``session.tools``."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.params_json_schema,
        }


@dataclass(frozen=True, slots=True, eq=False)
class Handoff:
    """What the model sees (tool name, description, input schema) and where it leads."""

    tool_name: str
    tool_description: str
    input_json_schema: dict[str, Any]
    agent: Agent[Any]
    on_handoff: OnHandoff | None = None
    input_type: type[Any] | None = None
    is_enabled: bool | EnabledCheck = True
    on_invoke_handoff: Callable[[RunContext[Any], str], Awaitable[Any]] | None = None
    """A raw hook ``(ctx, arguments_json)`` run instead of ``on_handoff`` (ports use it)."""

    @property
    def agent_name(self) -> str:
        return self.agent.name

    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.tool_name,
            "description": self.tool_description,
            "parameters": self.input_json_schema,
        }

    async def invoke(self, ctx: RunContext[Any], arguments: str) -> None:
        """Validate the model's input (a ToolError names what is wrong) and call ``on_handoff``."""
        if self.on_invoke_handoff is not None:
            await self.on_invoke_handoff(ctx, arguments)
            return
        if self.on_handoff is None:
            return
        if self.input_type is None:
            result = self.on_handoff(ctx)
        else:
            result = self.on_handoff(ctx, parse_input(self.input_type, arguments, self.tool_name))
        if inspect.isawaitable(result):
            await result


def handoff(
    agent: Agent[Any],
    *,
    tool_name_override: str | None = None,
    tool_description_override: str | None = None,
    on_handoff: OnHandoff | None = None,
    input_type: type[Any] | None = None,
    is_enabled: bool | EnabledCheck = True,
) -> Handoff:
    """A handoff to ``agent``; ``input_type`` (a pydantic model or any type pydantic
    can describe) is the input the model must give, passed to ``on_handoff``."""
    if input_type is not None and on_handoff is None:
        raise TypeError("handoff(input_type=...) needs an on_handoff(ctx, input) to receive it")
    description = f"Hand off to the {agent.name} agent to handle the request."
    if agent.handoff_description:
        description += f" {agent.handoff_description}"
    schema = _EMPTY if input_type is None else TypeAdapter(input_type).json_schema()
    return Handoff(
        tool_name=tool_name_override or default_tool_name(agent.name),
        tool_description=tool_description_override or description,
        input_json_schema=dict(schema),
        agent=agent,
        on_handoff=on_handoff,
        input_type=input_type,
        is_enabled=is_enabled,
    )


def default_tool_name(agent_name: str) -> str:
    """``transfer_to_`` and the agent's name in snake_case (as openai-agents names it)."""
    snake = re.sub(r"[^0-9a-zA-Z]+", "_", agent_name).strip("_").lower()
    return f"transfer_to_{snake or 'agent'}"


@dataclass(frozen=True, slots=True)
class GuardrailFunctionOutput:
    """What a guardrail function returns: whether it tripped, and why (anything)."""

    tripwire_triggered: bool
    output_info: Any = None


@dataclass(frozen=True, slots=True)
class OutputGuardrail:
    """``guardrail_function(ctx, agent, transcript_so_far)`` -> :class:`GuardrailFunctionOutput`."""

    guardrail_function: GuardrailFunction
    name: str | None = None

    def get_name(self) -> str:
        return self.name or str(getattr(self.guardrail_function, "__name__", "guardrail"))

    async def run(
        self, ctx: RunContext[Any], agent: Agent[Any], text: str
    ) -> OutputGuardrailResult:
        output = self.guardrail_function(ctx, agent, text)
        if inspect.isawaitable(output):
            output = await output
        if not isinstance(output, GuardrailFunctionOutput):
            raise TypeError(
                f"guardrail {self.get_name()!r} must return a GuardrailFunctionOutput, "
                f"got {type(output).__name__}"
            )
        return OutputGuardrailResult(guardrail=self, agent=agent, agent_output=text, output=output)


@dataclass(frozen=True, slots=True)
class OutputGuardrailResult:
    guardrail: OutputGuardrail
    agent: Agent[Any]
    agent_output: str
    output: GuardrailFunctionOutput


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
