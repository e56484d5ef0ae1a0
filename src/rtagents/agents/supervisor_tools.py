"""The supervisor's own tools, run for either text API: every failure becomes an output.

A text model that calls a tool wrongly (unknown name, bad arguments) or whose
tool fails must read what went wrong and try again or answer; nothing a
tool does may end the supervisor's loop except the loop's own limits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ..protocol.errors import ModelError, Origin, RealtimeError, ToolError
from .context import ToolContext
from .tool import FunctionTool

log = logging.getLogger("rtagents.agents.chat")


async def run_named_tool(
    by_name: dict[str, FunctionTool],
    name: str,
    arguments: str,
    call_id: str,
    ctx: ToolContext[Any],
) -> str:
    """The tool's output as the text the model reads (JSON ``{"error": ...}`` on failure)."""
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
