"""A text model behind any OpenAI-compatible Chat Completions endpoint, with its own tools.

The supervisor of :func:`~.delegate.delegate` is one: it loops (model, tools,
model, …) until the model answers in text, for at most ``max_turns`` model
calls. OpenAI, Ollama, vLLM, llama.cpp's server and rtagents' own
``/v1/chat/completions`` all speak this API, so the supervisor runs offline.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..protocol.errors import ModelError, Origin, RealtimeError, ToolError
from .context import ToolContext
from .tool import FunctionTool

log = logging.getLogger("rtagents.agents.chat")


@dataclass
class ChatModel:
    """Where the text model is: ``base_url`` ends before ``/chat/completions``
    (``https://api.openai.com/v1``, ``http://127.0.0.1:11434/v1``, ``<rtagents>/v1``)."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)

    async def complete(
        self, client: httpx.AsyncClient, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """One non-streaming completion; the first choice's message."""
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            body["tools"] = tools
        headers = dict(self.headers)
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url.rstrip("/") + "/chat/completions"
        try:
            reply = await client.post(url, json=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise ModelError(
                f"the text model at {url} could not be reached: {exc!r}",
                origin=Origin.REMOTE,
                code="supervisor_unreachable",
            ) from exc
        if reply.status_code != 200:
            raise ModelError(
                f"the text model answered HTTP {reply.status_code}: {reply.text[:300]}",
                origin=Origin.REMOTE,
                code="supervisor_failed",
            )
        try:
            message = reply.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ModelError(
                f"the text model's answer has no choices[0].message: {reply.text[:300]}",
                origin=Origin.REMOTE,
                code="supervisor_failed",
            ) from exc
        if not isinstance(message, dict):
            raise ModelError("choices[0].message is not an object", origin=Origin.REMOTE)
        return message


async def run_tool_loop(
    model: ChatModel,
    messages: list[dict[str, Any]],
    tools: Sequence[FunctionTool],
    ctx: ToolContext[Any],
    *,
    max_turns: int = 5,
    client: httpx.AsyncClient | None = None,
) -> str:
    """Call the model, run the tools it asks for, repeat until it answers in text."""
    by_name = {tool.name: tool for tool in tools}
    definitions = [
        {
            "type": "function",
            "function": {
                "name": t.name,
                "description": t.description,
                "parameters": t.params_json_schema,
            },
        }
        for t in tools
    ]
    own = client is None
    http = client or httpx.AsyncClient()
    try:
        for _ in range(max_turns):
            message = await model.complete(http, messages, definitions)
            calls = message.get("tool_calls") or []
            if not calls:
                return str(message.get("content") or "")
            messages.append(
                {"role": "assistant", "content": message.get("content"), "tool_calls": calls}
            )
            for call in calls:
                output = await _run_one(by_name, call, ctx)
                messages.append({"role": "tool", "tool_call_id": call.get("id"), "content": output})
    finally:
        if own:
            await http.aclose()
    raise ModelError(
        f"the text model did not answer within {max_turns} turns",
        origin=Origin.REMOTE,
        code="supervisor_max_turns",
    )


async def _run_one(
    by_name: dict[str, FunctionTool], call: dict[str, Any], ctx: ToolContext[Any]
) -> str:
    function = call.get("function") or {}
    name, arguments = str(function.get("name") or ""), str(function.get("arguments") or "{}")
    tool = by_name.get(name)
    if tool is None:
        return json.dumps({"error": f"there is no tool {name!r} (known: {sorted(by_name)})"})
    inner = ToolContext(
        context=ctx.context,
        tool_name=name,
        call_id=str(call.get("id") or ""),
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
