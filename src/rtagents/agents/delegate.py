"""Delegation to a supervisor: the voice agent fills the silence while a text model thinks.

The chatSupervisor pattern: a small, fast voice agent greets and collects
details, and hands every real question to a stronger text model through one
tool. Calling it says a filler line at once, asks the supervisor (with the
conversation so far, unless ``history=0``), and returns its answer as the
tool output, which the voice model then speaks. A deadline bounds the wait;
a barge-in cancels the request (the HTTP call is abandoned) and the model is
told so.

The filler is an out-of-band response (``conversation: "none"``, no tools)
whose input is one user message carrying the line and whose instructions say
to repeat it: it is heard at once, but neither the line nor the request to
say it enters the conversation history, so the voice model does not read it
back as something it already answered, and it may run while the function
call's own response is still finishing.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, create_model

from ..protocol.errors import Origin, ToolError
from .agent import FunctionTool, LiveSession, ToolContext
from .arguments import parse_arguments
from .chat import ChatModel
from .supervisor_loop import run_tool_loop
from .supervisor_tools import OnToolCall

log = logging.getLogger("rtagents.agents.delegate")

FILLER = "One moment, let me check that for you."
FILLER_INSTRUCTIONS = "Say exactly the words of the user's message, and nothing else."
"""Instructions of the filler response; its input message is the line itself."""
_ARGUMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


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
    argument: str = "request",
    argument_description: str = (
        "What the user needs, in one sentence, with the details collected."
    ),
    filler: str | None = FILLER,
    filler_instructions: str = FILLER_INSTRUCTIONS,
    history: int = 40,
    on_tool_call: OnToolCall | None = None,
    deadline_s: float = 20.0,
    max_turns: int = 5,
) -> FunctionTool:
    """A tool that asks ``model`` (with ``instructions`` and its own ``tools``) for the reply.

    ``argument`` names the tool's one string parameter (``argument_description`` tells
    the voice model what to put in it); ``history`` is how many recent conversation
    lines go with it (0: the argument alone); ``on_tool_call`` is told of each tool
    call the supervisor makes (see :class:`~.supervisor_tools.SupervisorToolCall`).
    """
    if deadline_s <= 0 or max_turns < 1 or history < 0:
        raise ValueError("delegate() needs deadline_s > 0, max_turns >= 1 and history >= 0")
    if not _ARGUMENT.match(argument):
        raise ValueError(
            f"delegate() argument {argument!r} must be an identifier of at most 64 characters"
        )
    arguments_model = create_model(
        "DelegateArguments", value=(str, Field(alias=argument)), __base__=BaseModel
    )

    async def invoke(ctx: ToolContext[Any], arguments: str) -> str:
        request = str(parse_arguments(arguments_model, arguments, name).model_dump()["value"])
        if filler and ctx.session is not None:
            await _say_filler(ctx.session, filler, filler_instructions)
        messages = [
            {"role": "system", "content": instructions},
            {"role": "user", "content": _brief(ctx, request, history)},
        ]
        try:
            async with asyncio.timeout(deadline_s):
                return await run_tool_loop(
                    model, messages, tools, ctx, max_turns=max_turns, on_tool_call=on_tool_call
                )
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
        params_json_schema=_schema(argument, argument_description),
        on_invoke_tool=invoke,
        timeout_seconds=deadline_s + 5.0,
    )


def _schema(argument: str, description: str) -> dict[str, Any]:
    # Keys in the order function_tool's schemas have, so both kinds of tool read alike.
    return {
        "additionalProperties": False,
        "properties": {argument: {"description": description, "type": "string"}},
        "required": [argument],
        "type": "object",
    }


async def _say_filler(session: LiveSession, line: str, instructions: str) -> None:
    """Say ``line`` now, outside the conversation, while the supervisor works."""
    try:
        await session.client.create_response(
            conversation="none",
            instructions=instructions,
            tools=[],
            tool_choice="none",
            input=[
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": line}],
                }
            ],
            metadata={"purpose": "filler"},
        )
    except Exception as exc:  # a filler is a courtesy: the answer still comes
        log.warning("could not say the filler line: %r", exc)


def _brief(ctx: ToolContext[Any], request: str, history: int) -> str:
    """The last ``history`` conversation lines, then the request (alone when 0)."""
    if history == 0:
        return request
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
    recent = "\n".join(lines[-history:]) or "(nothing yet)"
    return f"Conversation so far:\n{recent}\n\nRequest: {request}"
