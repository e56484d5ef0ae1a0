"""A supervisor text model behind one tool: speak a filler at once, then relay its answer.

The junior voice agent hands every real question to a text model (any
OpenAI-compatible ``POST /v1/chat/completions``; offline, the rtagents
server's own) that has its own tools and loops, calling them, until it has
an answer. While it works, the voice agent says a short filler line in an
out-of-band response (``conversation: "none"``), so the caller is never left
in silence. The tool's deadline bounds the whole exchange; a barge-in
cancels the tool call, which cancels the HTTP request with it.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..agents import FunctionTool, ToolContext

log = logging.getLogger("rtagents.scenarios.supervisor")

FILLER = "One moment, let me check that for you."
FILLER_INSTRUCTIONS = (
    "Filler line: repeat the user's words exactly, in a calm voice, and say nothing else."
)
"""The filler response's instructions; the offline rules recognise them by 'Filler line:'."""


@dataclass
class SupervisorTrace:
    """The supervisor's own tool calls, for whoever shows the call (bounded, oldest dropped).

    Pass one as the run context (or as its ``supervisor_trace`` attribute) to see them;
    they never reach the Realtime session, which sees only the final answer.
    """

    calls: deque[tuple[str, str, str]] = field(default_factory=lambda: deque(maxlen=256))


def trace_of(context: object) -> SupervisorTrace | None:
    if isinstance(context, SupervisorTrace):
        return context
    found = getattr(context, "supervisor_trace", None)
    return found if isinstance(found, SupervisorTrace) else None


@dataclass
class Supervisor:
    """The text model that answers for the voice agent, with its tools."""

    base_url: str
    api_key: str
    instructions: str
    tools: Sequence[FunctionTool]
    model: str = "supervisor"
    max_rounds: int = 4
    timeout_s: float = 45.0  # per model call: a small local model on a busy CPU is slow
    max_tokens: int = 120  # a spoken answer is a sentence or two; bounds a slow model too

    async def answer(self, ctx: ToolContext[Any], question: str) -> str:
        """Ask, run the tools it calls, ask again, until it answers in words."""
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": self.instructions},
            {"role": "user", "content": question},
        ]
        async with httpx.AsyncClient(timeout=self.timeout_s) as http:
            for _ in range(self.max_rounds):
                message = await self._complete(http, messages)
                calls = message.get("tool_calls") or []
                if not calls:
                    return str(message.get("content") or "").strip()
                messages.append(message)
                for call in calls:
                    messages.append(await self._run_tool(ctx, call))
        return "I'm sorry, I couldn't find that out just now."

    async def _complete(self, http: httpx.AsyncClient, messages: list[Any]) -> dict[str, Any]:
        try:
            return await self._post(http, messages)
        except httpx.TimeoutException:
            limit = f"{self.timeout_s:g} s"
            raise RuntimeError(
                f"the supervisor model at {self.base_url} did not answer within {limit}"
            ) from None

    async def _post(self, http: httpx.AsyncClient, messages: list[Any]) -> dict[str, Any]:
        response = await http.post(
            self.base_url.rstrip("/") + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {self.api_key}"},
            json={
                "model": self.model,
                "messages": messages,
                "tools": [_chat_tool(t) for t in self.tools],
                "max_tokens": self.max_tokens,
            },
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"the supervisor model answered HTTP {response.status_code}: {response.text[:300]}"
            )
        message: dict[str, Any] = response.json()["choices"][0]["message"]
        return message

    async def _run_tool(self, ctx: ToolContext[Any], call: dict[str, Any]) -> dict[str, Any]:
        """One supervisor tool call answered as a ``tool`` message (errors included)."""
        name = str(call.get("function", {}).get("name", ""))
        arguments = str(call.get("function", {}).get("arguments") or "{}")
        call_id = str(call.get("id") or "call_" + secrets.token_hex(8))
        tool = next((t for t in self.tools if t.name == name), None)
        if tool is None:
            output = json.dumps({"error": f"no tool named {name!r}"})
        else:
            inner = ToolContext(ctx.context, tool_name=name, call_id=call_id, arguments=arguments)
            try:
                output = _as_text(await tool.on_invoke_tool(inner, arguments))
            except Exception as exc:  # the model hears the failure and may try again
                log.warning("supervisor tool %s failed: %s", name, exc)
                output = json.dumps({"error": str(exc)})
        trace = trace_of(ctx.context)
        if trace is not None:
            trace.calls.append((name, arguments, output))
        return {"role": "tool", "tool_call_id": call_id, "content": output}


async def speak_filler(ctx: ToolContext[Any], line: str = FILLER) -> None:
    """Say ``line`` now, outside the conversation, while the tool keeps working."""
    if ctx.session is None:
        return
    try:
        await ctx.session.client.create_response(
            conversation="none",
            instructions=FILLER_INSTRUCTIONS,
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
        log.warning("could not speak the filler line: %s", exc)


def _chat_tool(tool: FunctionTool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.params_json_schema,
        },
    }


def _as_text(result: Any) -> str:
    return result if isinstance(result, str) else json.dumps(result, default=str)
