"""A text model behind any OpenAI-compatible Chat Completions or Responses endpoint, with tools.

The supervisor of :func:`~.delegate.delegate` is one: it loops (model, tools,
model, …) until the model answers in text, for at most ``max_turns`` model
calls (:func:`~.supervisor_loop.run_tool_loop`; this module holds the Chat
Completions loop). OpenAI, Ollama, vLLM, llama.cpp's server and rtagents' own
``/v1/chat/completions`` all speak Chat Completions, so the supervisor runs
offline; ``api="responses"`` speaks the Responses API instead
(:mod:`.responses_api`), for endpoints and models that offer only that one.
``timeout_s`` bounds each model call and ``max_tokens`` each answer (a
spoken reply is a sentence or two; a slow local model stays quick).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from ..protocol.errors import ModelError, Origin
from .agent import FunctionTool, ToolContext
from .supervisor_tools import OnToolCall, run_named_tool, too_many_turns


@dataclass
class ChatModel:
    """Where the text model is: ``base_url`` ends before ``/chat/completions`` or
    ``/responses`` (``https://api.openai.com/v1``, ``http://127.0.0.1:11434/v1``,
    ``<rtagents>/v1``); ``api`` says which of the two endpoints to call. ``timeout_s``
    bounds each model call; ``max_tokens`` (``max_output_tokens`` on Responses), when
    set, bounds each answer."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    headers: dict[str, str] = field(default_factory=dict)
    api: Literal["chat", "responses"] = "chat"
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.api not in ("chat", "responses"):
            raise ValueError(f"ChatModel api must be 'chat' or 'responses', not {self.api!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"ChatModel timeout_s must be > 0, not {self.timeout_s!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"ChatModel max_tokens must be >= 1 or None, not {self.max_tokens!r}")

    async def complete(
        self, client: httpx.AsyncClient, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """One non-streaming completion; the first choice's message."""
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            body["tools"] = tools
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        reply = await self.post(client, "/chat/completions", body)
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

    async def post(
        self, client: httpx.AsyncClient, path: str, body: dict[str, Any]
    ) -> httpx.Response:
        """POST ``body`` to ``path``; a ``model`` error unless the answer is HTTP 200."""
        headers = dict(self.headers)
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url.rstrip("/") + path
        try:
            reply = await client.post(url, json=body, headers=headers, timeout=self.timeout_s)
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
            raise ModelError(
                f"the text model at {url} did not answer within {self.timeout_s:g} s; raise "
                "ChatModel.timeout_s for a slow model, or lower max_tokens",
                origin=Origin.REMOTE,
                code="supervisor_timeout",
            ) from None
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
        return reply


async def chat_loop(
    model: ChatModel,
    messages: list[dict[str, Any]],
    tools: Sequence[FunctionTool],
    ctx: ToolContext[Any],
    http: httpx.AsyncClient,
    *,
    max_turns: int,
    on_tool_call: OnToolCall | None,
) -> str:
    """Ask, run the ``tool_calls`` the model makes, answer them, until it says text."""
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
    for _ in range(max_turns):
        message = await model.complete(http, messages, definitions)
        calls = message.get("tool_calls") or []
        if not calls:
            return str(message.get("content") or "")
        messages.append(
            {"role": "assistant", "content": message.get("content"), "tool_calls": calls}
        )
        for call in calls:
            function = call.get("function") or {}
            output = await run_named_tool(
                by_name,
                str(function.get("name") or ""),
                str(function.get("arguments") or "{}"),
                str(call.get("id") or ""),
                ctx,
                on_tool_call,
            )
            messages.append({"role": "tool", "tool_call_id": call.get("id"), "content": output})
    raise too_many_turns(max_turns)
