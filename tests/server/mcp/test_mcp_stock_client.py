"""Stock clients over a real WebSocket see every MCP event, in order.

The SDK's own client (rtagents.connect) and the official ``openai`` package,
unmodified, do nothing special for MCP: they decode the events with the GA
schema (rtagents also keeps its conversation mirror in step with the
server's) and answer an approval request with a ``conversation.item.create``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp_test_server import McpTestServer, mcp_test_server
from openai import AsyncOpenAI

from rtagents import connect
from rtagents.client import Session
from rtagents.engines.scripted import CallTool, Rule, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

RULES = [Rule(when="order", then=CallTool("lookup_order", {"order_number": "A17"}))]
WAIT_S = 30.0


@pytest.fixture
async def tools_server() -> AsyncIterator[McpTestServer]:
    async with mcp_test_server() as server:
        yield server


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0), scripted_engines(RULES)) as running:
        yield running


async def collect_through_the_call(session: Session, into: list[Any]) -> None:
    """Every event, up to the end of the response that ran the MCP call."""
    called = False
    async for event in session:
        into.append(event)
        called = called or event.type == "response.mcp_call.completed"
        if called and event.type == "rate_limits.updated":
            return


async def next_of(session: Session, event_type: str) -> Any:
    return await session.wait_for(event_type, timeout=WAIT_S)


@pytest.mark.conformance(
    "tools[mcp]",
    "tools[mcp].require_approval=always",
    "mcp_list_tools.in_progress",
    "mcp_list_tools.completed",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    status="supported",
    client="rtagents",
    transport="websocket",
    note="every event in order; the client's conversation mirror holds the MCP items",
)
async def test_listing_approval_and_call_reach_the_stock_client_in_order(
    server: RunningServer, tools_server: McpTestServer
) -> None:
    tool = {"type": "mcp", "server_label": "shop", "server_url": tools_server.url}
    events: list[Any] = []
    async with connect(server.ws_url, credentials=server.api_key) as session:
        reader = asyncio.create_task(collect_through_the_call(session, events))
        listed = asyncio.create_task(next_of(session, "mcp_list_tools.completed"))
        await session.update_session(
            {"type": "realtime", "output_modalities": ["text"], "tools": [tool]}
        )
        await listed
        await session.send_text("where is my order?")
        asked = asyncio.create_task(next_of(session, "response.done"))
        await session.create_response()
        request = (await asked).response.output[0]
        assert request.type == "mcp_approval_request"
        await session.create_item(
            {
                "type": "mcp_approval_response",
                "id": "answer_1",
                "approval_request_id": request.id,
                "approve": True,
            }
        )
        answered = asyncio.create_task(next_of(session, "response.done"))
        await session.create_response()
        final = (await answered).response
        await asyncio.wait_for(reader, WAIT_S)
        mirror = [item.type for item in session.conversation.items]
        call = next(item for item in session.conversation.items if item.type == "mcp_call")
        errors = list(session.errors)

    assert final.status == "completed"
    assert final.output[-1].content[0].text == "The tool returned: Order A17 shipped on Monday."
    assert mirror == [
        "mcp_list_tools",
        "message",
        "mcp_approval_request",
        "mcp_approval_response",
        "mcp_call",
        "message",
    ]
    assert call.output == "Order A17 shipped on Monday."
    assert json.loads(call.arguments) == {"order_number": "A17"}
    assert call.approval_request_id == request.id
    assert errors == []
    seen = [event.type for event in events]
    start = seen.index("session.updated")
    end = seen.index("rate_limits.updated", seen.index("response.mcp_call.completed"))
    assert seen[start : end + 1] == [
        "session.updated",
        "conversation.item.added",  # mcp_list_tools
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "conversation.item.done",
        "conversation.item.added",  # the user's question
        "conversation.item.done",
        "response.created",
        "response.output_item.added",  # mcp_approval_request
        "conversation.item.added",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
        "conversation.item.added",  # mcp_approval_response
        "conversation.item.done",
        "response.created",
        "response.output_item.added",  # mcp_call
        "conversation.item.added",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.output_item.done",
        "conversation.item.done",
        "response.output_item.added",  # the model's words about the output
        "conversation.item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * len(final.output[-1].content[0].text.split()),
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]


@pytest.mark.conformance(
    "tools[mcp]",
    "tools[mcp].server_url",
    "tools[mcp].require_approval=always",
    "mcp_list_tools.in_progress",
    "mcp_list_tools.completed",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    status="supported",
    client="openai",
    transport="websocket",
    note="approval request answered with an mcp_approval_response item",
)
async def test_the_openai_package_unmodified_runs_an_approved_mcp_call(
    server: RunningServer, tools_server: McpTestServer
) -> None:
    tool = {"type": "mcp", "server_label": "shop", "server_url": tools_server.url}
    client = AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=server.api_key, max_retries=0)
    seen: list[str] = []
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(
            session={"type": "realtime", "output_modalities": ["text"], "tools": [tool]}
        )
        await connection.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "where is order A17?"}],
            }
        )
        await connection.response.create()
        first = await until_done(connection, seen)
        request = first.output[0]
        assert request.type == "mcp_approval_request"
        await connection.conversation.item.create(
            item={
                "type": "mcp_approval_response",
                "id": "answer_1",
                "approval_request_id": request.id,
                "approve": True,
            }
        )
        await connection.response.create()
        final = await until_done(connection, seen)
    await client.close()
    for event_type in (
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
    ):
        assert event_type in seen
    call = final.output[0]
    assert call.type == "mcp_call" and call.output == "Order A17 shipped on Monday."
    assert final.output[-1].content[0].text == "The tool returned: Order A17 shipped on Monday."


async def until_done(connection: Any, seen: list[str]) -> Any:
    async for event in connection:
        seen.append(event.type)
        assert event.type != "error", event
        if event.type == "response.done":
            return event.response
    raise AssertionError(f"stream ended before response.done: {seen}")
