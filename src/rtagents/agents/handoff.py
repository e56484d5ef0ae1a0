"""Handoffs: a ``transfer_to_<agent>`` tool whose call makes another agent the active one."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..protocol.errors import Origin, ToolError
from .context import RunContext
from .tool import EnabledCheck, parse_arguments

if TYPE_CHECKING:
    from .agent import Agent

OnHandoff: TypeAlias = Callable[..., "Awaitable[None] | None"]
"""``on_handoff(ctx)``, or ``on_handoff(ctx, input)`` when the handoff has an ``input_type``."""

_EMPTY: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


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
            result = self.on_handoff(ctx, _parse_input(self.input_type, arguments, self.tool_name))
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


def _parse_input(input_type: type[Any], arguments: str, tool: str) -> Any:
    """The model's input as ``input_type`` (any type pydantic validates: a model, a
    dataclass, a TypedDict), or a ToolError naming what is wrong."""
    if inspect.isclass(input_type) and issubclass(input_type, BaseModel):
        return parse_arguments(input_type, arguments, tool)
    try:
        return TypeAdapter(input_type).validate_json(arguments or "{}")
    except ValidationError as exc:
        raise ToolError(
            f"invalid input for {tool!r}: {exc.errors()[0]['msg']}",
            origin=Origin.REMOTE,
            code="invalid_arguments",
            param=tool,
        ) from None
