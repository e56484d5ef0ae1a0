"""MCP items as the function calls and outputs the LLM engines read."""

from __future__ import annotations

from typing import Any

from rtagents.server.mcp.history_view import as_function_items

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


def request(item_id: str) -> dict[str, Any]:
    return {
        "type": "mcp_approval_request",
        "id": item_id,
        "name": "add",
        "arguments": "{}",
        "server_label": "s",
    }


def test_items_without_mcp_pass_unchanged() -> None:
    assert as_function_items([USER]) == [USER]


def test_a_call_reads_as_a_function_call_and_its_output() -> None:
    call = {"type": "mcp_call", "id": "m1", "name": "add", "arguments": '{"a":1}', "output": "2"}
    listing = {"type": "mcp_list_tools", "id": "l1", "server_label": "s", "tools": []}
    assert as_function_items([listing, USER, call]) == [
        USER,
        {"type": "function_call", "call_id": "m1", "name": "add", "arguments": '{"a":1}'},
        {"type": "function_call_output", "call_id": "m1", "output": "2"},
    ]


def test_a_failed_call_reads_as_its_error() -> None:
    call = {
        "type": "mcp_call",
        "id": "m1",
        "name": "add",
        "arguments": "{}",
        "error": {"type": "http_error", "code": 502, "message": "down"},
    }
    assert as_function_items([call])[1]["output"] == "The tool call failed: down"


def test_a_denied_request_reads_as_a_refusal_and_a_pending_one_as_nothing() -> None:
    denied = {
        "type": "mcp_approval_response",
        "id": "a1",
        "approval_request_id": "r1",
        "approve": False,
    }
    approved = {
        "type": "mcp_approval_response",
        "id": "a2",
        "approval_request_id": "r2",
        "approve": True,
    }
    items = [request("r1"), denied, request("r2"), approved, request("r3")]
    assert as_function_items(items) == [
        {"type": "function_call", "call_id": "r1", "name": "add", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "r1", "output": "The user denied this call."},
    ]
