"""The supervisor's loop on the Responses API (``POST /v1/responses``), non-streaming.

Stateless, so it works on any compatible server (no ``previous_response_id``):
every request carries the whole input, and each turn's output items go back
as they came (reasoning items included, which reasoning models need next to
their function calls), followed by a ``function_call_output`` per call.
Leading system messages become ``instructions``. Function tools are sent with
``strict: false``: the Responses API makes tools strict by default, and the
schemas pydantic writes for optional arguments are not strict-mode schemas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from ..protocol.errors import ModelError, Origin
from .agent import FunctionTool, ToolContext
from .chat import ChatModel
from .supervisor_tools import OnToolCall, run_named_tool, too_many_turns


async def responses_loop(
    model: ChatModel,
    messages: list[dict[str, Any]],
    tools: Sequence[FunctionTool],
    ctx: ToolContext[Any],
    http: httpx.AsyncClient,
    *,
    max_turns: int,
    on_tool_call: OnToolCall | None = None,
) -> str:
    """Ask, run the ``function_call`` s the model makes, answer them, until it says text."""
    by_name = {tool.name: tool for tool in tools}
    instructions, items = as_input(messages)
    body: dict[str, Any] = {"model": model.model, "input": items}
    if instructions:
        body["instructions"] = instructions
    if model.max_tokens is not None:
        body["max_output_tokens"] = model.max_tokens
    if tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.params_json_schema,
                "strict": False,
            }
            for t in tools
        ]
    for _ in range(max_turns):
        reply = await model.post(http, "/responses", body)
        output = read_output(reply)
        calls = [item for item in output if item["type"] == "function_call"]
        if not calls:
            return answer_text(output)
        items.extend(output)
        for call in calls:
            result = await run_named_tool(
                by_name, call["name"], call["arguments"] or "{}", call["call_id"], ctx, on_tool_call
            )
            items.append(
                {"type": "function_call_output", "call_id": call["call_id"], "output": result}
            )
    raise too_many_turns(max_turns)


def as_input(messages: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Chat messages as ``(instructions, input items)``; tool calls become their items."""
    leading = 0
    while leading < len(messages) and messages[leading].get("role") in ("system", "developer"):
        leading += 1
    instructions = "\n\n".join(str(m.get("content") or "") for m in messages[:leading])
    items: list[dict[str, Any]] = []
    for message in messages[leading:]:
        role = message.get("role")
        if role == "tool":
            output = str(message.get("content") or "")
            call_id = str(message.get("tool_call_id") or "")
            items.append({"type": "function_call_output", "call_id": call_id, "output": output})
            continue
        if message.get("content"):
            items.append({"type": "message", "role": role, "content": message["content"]})
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            items.append(
                {
                    "type": "function_call",
                    "call_id": str(call.get("id") or ""),
                    "name": str(function.get("name") or ""),
                    "arguments": str(function.get("arguments") or "{}"),
                }
            )
    return instructions, items


def read_output(reply: httpx.Response) -> list[dict[str, Any]]:
    """The ``output`` items of a completed response; a ``model`` error naming what is wrong."""
    try:
        body = reply.json()
    except ValueError:
        raise _malformed(f"the answer is not JSON: {reply.text[:200]}") from None
    if not isinstance(body, dict):
        raise _malformed(f"the answer is not a JSON object: {reply.text[:200]}")
    status = body.get("status")
    if body.get("error") or status == "failed":
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        raise ModelError(
            f"the text model's response failed: {error.get('message') or 'no reason given'}"
            + (f" ({error['code']})" if error.get("code") else ""),
            origin=Origin.REMOTE,
            code="supervisor_failed",
        )
    if status == "incomplete":
        reason = (body.get("incomplete_details") or {}).get("reason") or "no reason given"
        raise ModelError(
            f"the text model's response is incomplete ({reason}); raise its max_output_tokens "
            "or ask for a shorter answer",
            origin=Origin.REMOTE,
            code="supervisor_incomplete",
        )
    if status not in (None, "completed"):
        raise _malformed(
            f"status is {status!r}, not 'completed' (background responses are not read)"
        )
    output = body.get("output")
    if not isinstance(output, list):
        raise _malformed(f"'output' is {type(output).__name__}, not a list of items")
    for index, item in enumerate(output):
        _check_item(index, item)
    return output


def _check_item(index: int, item: Any) -> None:
    where = f"output[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise _malformed(f"{where} is not an item with a 'type'")
    if item["type"] == "function_call":
        for name in ("call_id", "name"):
            if not isinstance(item.get(name), str) or not item[name]:
                raise _malformed(f"{where}.{name} must be a non-empty string (a function_call)")
        if not isinstance(item.get("arguments"), str):
            raise _malformed(f"{where}.arguments must be a JSON string (a function_call)")
    elif item["type"] == "message" and not isinstance(item.get("content"), list):
        raise _malformed(f"{where}.content must be a list of parts (a message)")


def answer_text(output: list[dict[str, Any]]) -> str:
    """The text of the assistant's message items (a refusal is its text too)."""
    parts = []
    for item in output:
        if item["type"] != "message" or item.get("role", "assistant") != "assistant":
            continue
        for part in item["content"]:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "output_text":
                parts.append(str(part.get("text") or ""))
            elif part.get("type") == "refusal":
                parts.append(str(part.get("refusal") or ""))
    return "".join(parts)


def _malformed(why: str) -> ModelError:
    return ModelError(
        f"the text model's Responses answer is malformed: {why}",
        origin=Origin.REMOTE,
        code="supervisor_failed",
    )
