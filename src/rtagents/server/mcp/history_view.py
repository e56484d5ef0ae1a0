"""MCP items as the function calls and outputs an LLM engine understands.

An ``mcp_call`` is a tool call the model made and its result (the output,
or the error in words). A denied ``mcp_approval_request`` is a call whose
result says the user refused it, so the model can say so. Requests not
answered yet or approved but not run, ``mcp_list_tools`` and
``mcp_approval_response`` items say nothing to the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MCP_ITEM_TYPES = frozenset(
    {"mcp_call", "mcp_approval_request", "mcp_approval_response", "mcp_list_tools"}
)


def as_function_items(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``items`` with every MCP item replaced by its function-call equivalent (or dropped)."""
    if not any(item.get("type") in MCP_ITEM_TYPES for item in items):
        return list(items)
    denials = {
        str(item.get("approval_request_id")): str(item.get("reason") or "")
        for item in items
        if item.get("type") == "mcp_approval_response" and not item.get("approve")
    }
    out: list[Mapping[str, Any]] = []
    for item in items:
        kind = item.get("type")
        if kind not in MCP_ITEM_TYPES:
            out.append(item)
        elif kind == "mcp_call":
            out.extend(_exchange(item, _result(item)))
        elif kind == "mcp_approval_request" and str(item.get("id")) in denials:
            reason = denials[str(item.get("id"))]
            refusal = "The user denied this call" + (f": {reason}" if reason else ".")
            out.extend(_exchange(item, refusal))
    return out


def _result(item: Mapping[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, Mapping):
        return f"The tool call failed: {error.get('message') or error.get('type')}"
    return str(item.get("output") or "")


def _exchange(item: Mapping[str, Any], result: str) -> list[Mapping[str, Any]]:
    call_id = str(item.get("id") or "")
    return [
        {
            "type": "function_call",
            "call_id": call_id,
            "name": item.get("name"),
            "arguments": item.get("arguments"),
        },
        {"type": "function_call_output", "call_id": call_id, "output": result},
    ]
