"""The supervisor's own tools, run for either text API: every failure becomes an output.

A text model that calls a tool wrongly (unknown name, bad arguments) or whose
tool fails must read what went wrong and try again or answer; nothing a
tool does may end the supervisor's loop except the loop's own limits. Each
call, once answered, is reported to an optional hook (a trace for a UI or a
log); the hook sees the call after the fact and cannot change it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..protocol.errors import ModelError, Origin, RealtimeError, ToolError
from .agent import FunctionTool, ToolContext

log = logging.getLogger("rtagents.agents.chat")


@dataclass(frozen=True)
class SupervisorToolCall:
    """One tool call the supervisor made, with the output it read back (errors included)."""

    name: str
    arguments: str
    output: str
    call_id: str


OnToolCall = Callable[[ToolContext[Any], SupervisorToolCall], None]
"""Told of each supervisor tool call as it is answered; the Realtime session never sees them."""


async def run_named_tool(
    by_name: dict[str, FunctionTool],
    name: str,
    arguments: str,
    call_id: str,
    ctx: ToolContext[Any],
    on_call: OnToolCall | None = None,
) -> str:
    """The tool's output as the text the model reads (JSON ``{"error": ...}`` on failure)."""
    output = await _output(by_name, name, arguments, call_id, ctx)
    if on_call is not None:
        try:
            on_call(ctx, SupervisorToolCall(name, arguments, output, call_id))
        except Exception as exc:  # a broken trace must not break the answer
            log.warning("the supervisor's on_tool_call hook raised: %r", exc)
    return output


async def _output(
    by_name: dict[str, FunctionTool],
    name: str,
    arguments: str,
    call_id: str,
    ctx: ToolContext[Any],
) -> str:
    tool = by_name.get(name)
    if tool is None:
        return json.dumps({"error": f"there is no tool {name!r} (known: {sorted(by_name)})"})
    inner = ToolContext(
        context=ctx.context,
        tool_name=name,
        call_id=call_id,
        arguments=arguments,
        session=ctx.session,
    )
    try:
        result = await asyncio.wait_for(tool.on_invoke_tool(inner, arguments), tool.timeout_seconds)
    except TimeoutError:
        return json.dumps({"error": f"{name!r} timed out after {tool.timeout_seconds:g} s"})
    except (RealtimeError, ToolError) as exc:
        return json.dumps({"error": exc.message})
    except Exception as exc:
        log.warning("supervisor tool %s raised: %r", name, exc)
        return json.dumps({"error": f"{name!r} raised {type(exc).__name__}: {exc}"})
    return result if isinstance(result, str) else json.dumps(result, default=str)


def too_many_turns(max_turns: int) -> ModelError:
    return ModelError(
        f"the text model did not answer within {max_turns} turns",
        origin=Origin.REMOTE,
        code="supervisor_max_turns",
    )
