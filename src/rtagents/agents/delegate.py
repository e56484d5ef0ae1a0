"""Delegation to a supervisor: the voice agent fills the silence while a text model thinks.

The chatSupervisor pattern: a small, fast voice agent greets and collects
details, and hands every real question to a stronger text model through one
tool. Calling it says a filler line at once (a response whose instructions
are the line), asks the supervisor with the conversation so far, and returns
its answer as the tool output, which the voice model then speaks. A deadline
bounds the wait; a barge-in cancels the request (the HTTP call is abandoned)
and the model is told so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from ..protocol.errors import Origin, ToolError
from .chat import ChatModel, run_tool_loop
from .context import ToolContext
from .tool import FunctionTool, parse_arguments

log = logging.getLogger("rtagents.agents.delegate")


class _Request(BaseModel):
    request: str


_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "request": {
            "type": "string",
            "description": "What the user needs, in one sentence, with the details collected.",
        }
    },
    "required": ["request"],
    "additionalProperties": False,
}


def delegate(
    model: ChatModel,
    *,
    instructions: str,
    tools: Sequence[FunctionTool] = (),
    name: str = "ask_supervisor",
    description: str = (
        "Ask the supervisor, a more capable assistant, for the answer to anything beyond "
        "greetings and collecting details. Speak its answer to the user."
    ),
    filler: str | None = "One moment, let me check that for you.",
    deadline_s: float = 20.0,
    max_turns: int = 5,
) -> FunctionTool:
    """A tool that asks ``model`` (with ``instructions`` and its own ``tools``) for the reply."""
    if deadline_s <= 0 or max_turns < 1:
        raise ValueError("delegate() needs deadline_s > 0 and max_turns >= 1")

    async def invoke(ctx: ToolContext[Any], arguments: str) -> str:
        request = str(parse_arguments(_Request, arguments, name).model_dump()["request"])
        if filler and ctx.session is not None:
            await ctx.session.client.create_response(
                instructions=f"Say exactly this, and nothing else: {filler}", tool_choice="none"
            )
        messages = [
            {"role": "system", "content": instructions},
            {"role": "user", "content": _brief(ctx, request)},
        ]
        try:
            async with asyncio.timeout(deadline_s):
                return await run_tool_loop(model, messages, tools, ctx, max_turns=max_turns)
        except TimeoutError:
            raise ToolError(
                f"the supervisor did not answer within {deadline_s:g} s; apologise and offer "
                "to try again",
                origin=Origin.REMOTE,
                code="tool_timeout",
                param=name,
            ) from None

    # The deadline is enforced inside (with a message for the model), not by the session.
    return FunctionTool(
        name=name,
        description=description,
        params_json_schema=_SCHEMA,
        on_invoke_tool=invoke,
        timeout_seconds=deadline_s + 5.0,
    )


def _brief(ctx: ToolContext[Any], request: str) -> str:
    """The conversation so far as plain lines, then the request."""
    lines = []
    if ctx.session is not None:
        conversation = ctx.session.client.conversation
        for item in conversation.items:
            role = getattr(item, "role", None)
            if getattr(item, "type", None) != "message" or role not in ("user", "assistant"):
                continue
            text = conversation.transcript(item.id) if item.id else ""
            if not text:
                text = " ".join(
                    str(getattr(part, "text", None) or getattr(part, "transcript", None) or "")
                    for part in getattr(item, "content", None) or []
                ).strip()
            if text:
                lines.append(f"{role}: {text}")
    history = "\n".join(lines[-40:]) or "(nothing yet)"
    return f"Conversation so far:\n{history}\n\nRequest: {request}"
