"""The supervisor's loop: call the text model, run the tools it asks for, until it answers.

It picks the endpoint's loop (:func:`.chat.chat_loop` for Chat Completions,
:func:`.responses_api.responses_loop` for the Responses API) from
``ChatModel.api``; both loops depend on the model, never on each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from .agent import FunctionTool, ToolContext
from .chat import ChatModel, chat_loop
from .responses_api import responses_loop
from .supervisor_tools import OnToolCall


async def run_tool_loop(
    model: ChatModel,
    messages: list[dict[str, Any]],
    tools: Sequence[FunctionTool],
    ctx: ToolContext[Any],
    *,
    max_turns: int = 5,
    client: httpx.AsyncClient | None = None,
    on_tool_call: OnToolCall | None = None,
) -> str:
    """Call the model, run the tools it asks for, repeat until it answers in text.

    ``messages`` are Chat Completions messages; the Chat loop extends them
    with the model's tool calls and their outputs, the Responses loop keeps
    its own items (see :func:`.responses_api.responses_loop`). ``on_tool_call``
    is told of each tool call the model makes, once it is answered.
    """
    own = client is None
    http = client or httpx.AsyncClient()
    try:
        if model.api == "responses":
            return await responses_loop(
                model, messages, tools, ctx, http, max_turns=max_turns, on_tool_call=on_tool_call
            )
        return await chat_loop(
            model, messages, tools, ctx, http, max_turns=max_turns, on_tool_call=on_tool_call
        )
    finally:
        if own:
            await http.aclose()
