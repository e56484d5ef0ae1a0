"""MCP tools through a running rtagents server, against a real MCP server the test starts.

The scripted engine plays the model (it calls ``add`` when the user says
"add"); everything else is real: the rtagents server lists the MCP server's
tools, asks for approval, calls the tool over streamable HTTP and streams
the GA events, which the raw client decodes with the codec.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp_test_server import McpTestServer, free_port_url, mcp_test_server
from server_harness import RawClient, memory_session, mint, session, types

from rtagents.engines.scripted import CallTool, Rule, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import Limits
from rtagents.server.serving import RunningServer, running_server

RULES = [
    Rule(when="add", then=CallTool("add", {"a": 2, "b": 3})),
    Rule(when="broken", then=CallTool("fail", {})),
    Rule(when="slowly", then=CallTool("slow", {"seconds": 60})),
    Rule(when="both", then=[CallTool("add", {"a": 1, "b": 1}), CallTool("get_weather", {})]),
]
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
LIST_EVENTS = [
    "conversation.item.added",
    "mcp_list_tools.in_progress",
    "mcp_list_tools.completed",
    "conversation.item.done",
]
CALL_EVENTS = [
    "response.output_item.added",
    "conversation.item.added",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
]


@pytest.fixture
async def tools_server() -> AsyncIterator[McpTestServer]:
    async with mcp_test_server() as server:
        yield server


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, mcp_timeout_s=20.0)
    async with running_server(config, scripted_engines(RULES)) as running:
        yield running


def mcp_tool(url: str, **settings: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "shop", "server_url": url, **settings}


async def configure(client: RawClient, *tools: dict[str, Any]) -> list[Any]:
    """session.update with ``tools`` (text replies); the events through the listing's end."""
    session = {"type": "realtime", "output_modalities": ["text"], "tools": list(tools)}
    await client.send({"type": "session.update", "session": session})
    events = await client.until("session.updated")
    return events + await client.until("conversation.item.done")


@pytest.mark.conformance(
    "tools[mcp]",
    "tools[mcp].server_label",
    "tools[mcp].server_url",
    "tools[mcp].allowed_tools",
    "tools[mcp].allowed_tools.tool_names",
    "mcp_list_tools.in_progress",
    "mcp_list_tools.completed",
    status="supported",
    client="raw",
    transport="in-process",
    note="listed once per session: the listing is cached",
)
async def test_session_update_lists_the_tools_once(
    client: RawClient, tools_server: McpTestServer
) -> None:
    events = await configure(client, mcp_tool(tools_server.url, allowed_tools=["add", "fail"]))
    assert types(events) == ["session.updated", *LIST_EVENTS]
    added, in_progress, completed, done = events[1:]
    assert added.item.type == "mcp_list_tools" and added.item.tools == []
    assert in_progress.item_id == completed.item_id == added.item.id == done.item.id
    assert done.item.server_label == "shop"
    assert sorted(tool.name for tool in done.item.tools) == ["add", "fail"]  # allowed_tools
    add = next(tool for tool in done.item.tools if tool.name == "add")
    assert add.description == "Add two integers."
    assert add.input_schema["required"] == ["a", "b"]

    # The same server again: the cached listing serves, nothing is listed.
    await client.send({"type": "session.update", "session": {"type": "realtime"}})
    assert types(await client.until("session.updated")) == ["session.updated"]
    await client.send({"type": "conversation.item.retrieve", "item_id": added.item.id})
    retrieved = await client.recv()
    assert retrieved.type == "conversation.item.retrieved"
    assert retrieved.item.type == "mcp_list_tools"


@pytest.mark.conformance(
    "tools[mcp].require_approval=never",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    status="supported",
    client="raw",
    transport="in-process",
    note="a real MCP server (the mcp package's MCPServer) on loopback",
)
async def test_a_call_without_approval_runs_and_the_model_speaks_of_its_output(
    client: RawClient, tools_server: McpTestServer
) -> None:
    await configure(client, mcp_tool(tools_server.url, require_approval="never"))
    await client.user_text("please add two and three")
    events = await client.respond()
    seen = types(events)
    assert seen[: 1 + len(CALL_EVENTS)] == ["response.created", *CALL_EVENTS]
    at = 1 + len(CALL_EVENTS)
    assert seen[at : at + 3] == [
        "response.mcp_call.completed",
        "response.output_item.done",
        "conversation.item.done",
    ]
    call = events[at + 1].item
    assert (call.type, call.name, call.server_label) == ("mcp_call", "add", "shop")
    assert json.loads(call.arguments) == {"a": 2, "b": 3}
    assert call.output == "5" and call.error is None and call.approval_request_id is None
    done = events[-2]
    assert done.type == "response.done" and done.response.status == "completed"
    kinds = [item.type for item in done.response.output]
    assert kinds == ["mcp_call", "message"]
    assert done.response.output[1].content[0].text == "The tool returned: 5"
    assert tools_server.calls == ["add"]


@pytest.mark.conformance(
    "tools[mcp].require_approval=always",
    status="supported",
    client="raw",
    transport="in-process",
    note="mcp_approval_request item; the approved call runs at the next response",
)
async def test_approval_always_asks_then_runs_the_approved_call(
    client: RawClient, tools_server: McpTestServer
) -> None:
    await configure(client, mcp_tool(tools_server.url, require_approval="always"))
    await client.user_text("add them")
    first = await client.respond()
    assert types(first) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]
    request = first[3].item
    assert (request.type, request.name, request.server_label) == (
        "mcp_approval_request",
        "add",
        "shop",
    )
    assert json.loads(request.arguments) == {"a": 2, "b": 3}
    assert tools_server.calls == []  # nothing ran before the user said yes

    await answer(client, request.id, approve=True)
    second = await client.respond()
    call_done = next(e for e in second if e.type == "response.output_item.done")
    assert call_done.item.type == "mcp_call"
    assert call_done.item.approval_request_id == request.id
    assert call_done.item.output == "5"
    assert "response.mcp_call.completed" in types(second)
    assert second[-2].response.output[-1].content[0].text == "The tool returned: 5"
    assert tools_server.calls == ["add"]

    third = await client.respond()  # an approval is used once
    assert "response.mcp_call.in_progress" not in types(third)
    assert tools_server.calls == ["add"]


async def test_a_denied_call_never_runs_and_the_model_hears_the_refusal(
    client: RawClient, tools_server: McpTestServer
) -> None:
    await configure(client, mcp_tool(tools_server.url))  # approval: the hosted default
    await client.user_text("add them")
    request = next(e for e in await client.respond() if e.type == "response.output_item.done")
    await answer(client, request.item.id, approve=False, reason="not now")
    events = await client.respond()
    assert not [t for t in types(events) if t.startswith("response.mcp_call")]
    reply = events[-2].response.output[-1].content[0].text
    assert reply == "The tool returned: The user denied this call: not now"
    assert tools_server.calls == []


async def test_approval_responses_must_answer_a_pending_request(
    client: RawClient, tools_server: McpTestServer
) -> None:
    await configure(client, mcp_tool(tools_server.url))
    unknown = approval_item("nope", approve=True)
    error = await client.error({"type": "conversation.item.create", "item": unknown})
    assert (error.code, error.param) == ("invalid_value", "item.approval_request_id")
    await client.user_text("add them")
    request = next(e for e in await client.respond() if e.type == "response.output_item.done")
    await answer(client, request.item.id, approve=True)
    again = {**approval_item(request.item.id, approve=False), "id": "a_second_answer"}
    error = await client.error({"type": "conversation.item.create", "item": again})
    assert error.param == "item.approval_request_id" and "already answered" in error.message


@pytest.mark.conformance(
    "response.mcp_call.failed",
    status="supported",
    client="raw",
    transport="in-process",
    note="the item's error is a tool_execution_error",
)
async def test_a_tool_error_fails_the_call_not_the_response(
    client: RawClient, tools_server: McpTestServer
) -> None:
    await configure(client, mcp_tool(tools_server.url, require_approval="never"))
    await client.user_text("the broken one")
    events = await client.respond()
    assert "response.mcp_call.failed" in types(events)
    call = next(e.item for e in events if e.type == "response.output_item.done")
    assert call.output is None
    assert call.error.type == "tool_execution_error"
    assert call.error.message.endswith("the order database is down")
    done = events[-2].response
    assert done.status == "completed"
    assert done.output[-1].content[0].text.startswith("The tool returned: The tool call failed")


async def test_cancelling_during_a_call_fails_the_call_and_cancels_the_response(
    client: RawClient, tools_server: McpTestServer
) -> None:
    await configure(client, mcp_tool(tools_server.url, require_approval="never"))
    await client.user_text("do it slowly")
    await client.send({"type": "response.create"})
    await client.until("response.mcp_call.in_progress")
    await client.send({"type": "response.cancel"})
    events = await client.until("rate_limits.updated")
    assert types(events)[:3] == [
        "response.mcp_call.failed",
        "response.output_item.done",
        "conversation.item.done",
    ]
    call = events[1].item
    assert call.error.type == "tool_execution_error"
    assert "cancelled" in call.error.message
    assert events[-2].response.status == "cancelled"
    await client.user_text("add after that")  # the session goes on
    assert (await client.respond())[-2].response.status == "completed"


@pytest.mark.conformance(
    "mcp_list_tools.failed",
    status="supported",
    client="raw",
    transport="in-process",
    note="plus an error event (tool_failed) saying why",
)
async def test_an_unreachable_server_fails_the_listing_with_a_tool_error(
    client: RawClient,
) -> None:
    url = free_port_url()
    session = {"type": "realtime", "tools": [mcp_tool(url)]}
    await client.send({"type": "session.update", "session": session})
    events = await client.until("error")
    assert types(events) == [
        "session.updated",
        "conversation.item.added",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.failed",
        "conversation.item.done",
        "error",
    ]
    assert events[4].item.tools == []
    error = events[-1].error
    assert (error.type, error.code) == ("server_error", "tool_failed")
    assert "'shop'" in error.message and "could not be reached" in error.message

    # A failed listing is not cached: the next update tries again.
    await client.send({"type": "session.update", "session": session})
    again = await client.until("error")
    assert "mcp_list_tools.failed" in types(again)


async def test_a_disallowed_url_is_refused_naming_the_field(client: RawClient) -> None:
    tool = mcp_tool("http://169.254.169.254/latest/meta-data")
    session = {"type": "realtime", "tools": [tool]}
    error = await client.error({"type": "session.update", "session": session})
    assert (error.code, error.param) == (
        "mcp_server_url_not_allowed",
        "session.tools[0].server_url",
    )
    assert "loopback" in error.message and "--mcp-allow" in error.message
    error = await client.error({"type": "response.create", "response": {"tools": [tool]}})
    assert error.param == "response.tools[0].server_url"
    await client.user_text("still here")
    assert (await client.respond())[-2].response.status == "completed"


async def test_response_level_mcp_tools_are_listed_inside_the_response(
    client: RawClient, tools_server: McpTestServer
) -> None:
    await client.send(
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}
    )
    await client.until("session.updated")
    await client.user_text("add please")
    tool = mcp_tool(tools_server.url, require_approval="never")
    events = await client.respond({"tools": [tool]})
    seen = types(events)
    assert seen[:5] == ["response.created", *LIST_EVENTS]
    assert "response.mcp_call.completed" in seen
    assert events[-2].response.output[-1].content[0].text == "The tool returned: 5"


def approval_item(request_id: str, *, approve: bool, reason: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "mcp_approval_response",
        "id": f"approval_for_{request_id}",
        "approval_request_id": request_id,
        "approve": approve,
    }
    if reason is not None:
        item["reason"] = reason
    return item


async def answer(
    client: RawClient, request_id: str, *, approve: bool, reason: str | None = None
) -> None:
    item = approval_item(request_id, approve=approve, reason=reason)
    await client.send({"type": "conversation.item.create", "item": item})
    events = await client.until("conversation.item.done")
    assert events[-1].item.type == "mcp_approval_response"


async def test_a_client_secrets_mcp_tools_are_listed_when_the_session_starts(
    server: RunningServer, tools_server: McpTestServer
) -> None:
    tools = [mcp_tool(tools_server.url, require_approval="never")]
    config = {"type": "realtime", "output_modalities": ["text"], "tools": tools}
    minted = await mint(server, {"session": config})
    assert minted.status_code == 200, minted.text
    async with session(server, key=minted.json()["value"], greet=False) as client:
        events = await client.until("conversation.item.done")
        assert types(events) == ["session.created", "conversation.created", *LIST_EVENTS]
        await client.user_text("add them")
        assert "response.mcp_call.completed" in types(await client.respond())


async def test_a_client_secrets_disallowed_url_is_reported_and_left_unused(
    server: RunningServer,
) -> None:
    tools = [mcp_tool("http://10.9.9.9/mcp", require_approval="never")]
    config = {"type": "realtime", "output_modalities": ["text"], "tools": tools}
    minted = await mint(server, {"session": config})
    async with session(server, key=minted.json()["value"], greet=False) as client:
        events = await client.until("error")
        assert types(events) == ["session.created", "conversation.created", "error"]
        assert events[-1].error.param == "session.tools[0].server_url"
        await client.user_text("add them")
        events = await client.respond()
        assert not [t for t in types(events) if "mcp" in t]
        assert events[-2].response.status == "completed"


async def test_no_listing_item_past_the_conversations_item_limit(
    tools_server: McpTestServer,
) -> None:
    config = ServerConfig(port=0, limits=Limits(conversation_items=1))
    async with running_server(config, scripted_engines(RULES)) as small:
        async with memory_session(small) as client:
            await client.user_text("the only item there is room for")
            session = {"type": "realtime", "tools": [mcp_tool(tools_server.url)]}
            await client.send({"type": "session.update", "session": session})
            events = await client.until("error")
            assert types(events) == ["session.updated", "error"]
            assert events[-1].error.code == "conversation_full"
    assert tools_server.headers_seen == []  # nothing was listed


async def test_at_most_16_mcp_servers_are_listed_at_once(client: RawClient) -> None:
    with socket.socket() as silent:  # accepts connections, never answers: listings hang
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/mcp"
        many = [{**mcp_tool(url), "server_label": f"s{i}"} for i in range(17)]
        error = await client.error(
            {"type": "session.update", "session": {"type": "realtime", "tools": many}}
        )
        assert (error.code, error.param) == ("invalid_value", "session.tools")
        await client.send(
            {"type": "session.update", "session": {"type": "realtime", "tools": many[:16]}}
        )
        assert (await client.recv()).type == "session.updated"
        one_more = {"type": "realtime", "tools": [many[16]]}
        error = await client.error(
            {"type": "session.update", "session": one_more}, interleaved=True
        )
        assert error.param == "session.tools" and "16 are being listed" in error.message


async def test_a_function_call_beside_an_mcp_call_waits_for_the_client(
    client: RawClient, tools_server: McpTestServer
) -> None:
    await configure(client, WEATHER, mcp_tool(tools_server.url, require_approval="never"))
    await client.user_text("do both")
    first = (await client.respond())[-2].response
    assert [item.type for item in first.output] == ["mcp_call", "function_call"]
    assert first.output[0].output == "2"  # the MCP call ran; no words before the client answers
    output = {"type": "function_call_output", "call_id": first.output[1].call_id, "output": "sunny"}
    await client.send({"type": "conversation.item.create", "item": output})
    await client.until("conversation.item.done")
    second = (await client.respond())[-2].response
    assert second.output[-1].content[0].text == "The tool returned: sunny"
