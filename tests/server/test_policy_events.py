"""The gateway policy on client events: refused with a specific error, forced, or let through.

A real server on loopback with a policy, reached over raw WebSockets (the wire
is what is checked) and with the stock client (``rtagents.connect``); the
session goes on after every refusal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from server_harness import RawClient, session

from rtagents import connect
from rtagents.protocol.errors import RealtimeError
from rtagents.server.config import ServerConfig
from rtagents.server.policy.table import Policy
from rtagents.server.serving import RunningServer, running_server

PREFIX = "Gateway rules: be polite. "
POLICY = Policy(
    allowed_models=("gpt-realtime",),
    allowed_functions=("get_weather",),
    max_instructions_bytes=64,
    instructions_prefix=PREFIX,
    forced_fields={"max_output_tokens": 256, "audio": {"output": {"voice": "marin"}}},
)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def tool(name: str) -> dict[str, Any]:
    return {**WEATHER, "name": name}


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0, policy=POLICY)) as running:
        yield running


async def update(client: RawClient, fields: dict[str, Any]) -> Any:
    return await client.roundtrip(
        {"type": "session.update", "session": {"type": "realtime", **fields}}, "session.updated"
    )


async def refused(client: RawClient, fields: dict[str, Any]) -> Any:
    return await client.error(
        {"type": "session.update", "event_id": "evt_p", "session": {"type": "realtime", **fields}}
    )


async def test_the_first_config_carries_the_forced_fields_and_the_prefix(
    server: RunningServer,
) -> None:
    async with session(server, greet=False) as client:
        created = (await client.recv()).session
    assert created.max_output_tokens == 256
    assert created.audio.output.voice == "marin"
    assert created.instructions.startswith(PREFIX)


async def test_session_update_gets_the_forced_fields_whatever_the_client_sends(
    server: RunningServer,
) -> None:
    async with session(server) as client:
        sent = {"instructions": "Talk like a pirate.", "max_output_tokens": 4096}
        updated = (await update(client, {**sent, "audio": {"output": {"voice": "ash"}}})).session
        assert updated.instructions == PREFIX + "Talk like a pirate."
        assert updated.max_output_tokens == 256
        assert updated.audio.output.voice == "marin"
        # A client echoing session.updated back gets the prefix once, not twice.
        echoed = (await update(client, {"instructions": updated.instructions})).session
        assert echoed.instructions == PREFIX + "Talk like a pirate."


async def test_a_function_outside_the_allowlist_is_refused_and_the_session_goes_on(
    server: RunningServer,
) -> None:
    async with session(server) as client:
        error = await refused(client, {"tools": [WEATHER, tool("delete_account")]})
        assert (error.code, error.param, error.event_id) == (
            "tool_not_allowed",
            "session.tools[1].name",
            "evt_p",
        )
        assert "'delete_account'" in error.message and "policy.allowed_functions" in error.message
        allowed = (await update(client, {"tools": [WEATHER]})).session
        assert [t.name for t in allowed.tools] == ["get_weather"]


async def test_a_tool_type_outside_the_policy_is_refused(server: RunningServer) -> None:
    mcp = {"type": "mcp", "server_label": "files", "server_url": "http://127.0.0.1:9/mcp"}
    async with session(server) as client:
        error = await refused(client, {"tools": [mcp]})
        assert (error.code, error.param) == ("tool_not_allowed", "session.tools[0].type")
        assert "function tools only" in error.message
        choice = await refused(client, {"tool_choice": {"type": "function", "name": "rm"}})
        assert (choice.code, choice.param) == ("tool_not_allowed", "session.tool_choice.name")


async def test_instructions_over_the_policy_size_are_refused_the_prefix_not_counted(
    server: RunningServer,
) -> None:
    async with session(server) as client:
        error = await refused(client, {"instructions": "x" * 65})
        assert (error.code, error.param) == ("instructions_too_large", "session.instructions")
        assert "65 bytes" in error.message and "policy.max_instructions_bytes" in error.message
        exact = (await update(client, {"instructions": PREFIX + "y" * 64})).session
        assert exact.instructions == PREFIX + "y" * 64


async def test_response_create_is_screened_and_forced_like_a_session(
    server: RunningServer,
) -> None:
    async with session(server) as client:
        error = await client.error(
            {"type": "response.create", "response": {"tools": [tool("wire_money")]}}
        )
        assert (error.code, error.param) == ("tool_not_allowed", "response.tools[0].name")
        long = await client.error(
            {"type": "response.create", "response": {"instructions": "z" * 99}}
        )
        assert (long.code, long.param) == ("instructions_too_large", "response.instructions")
        await client.user_text("hello")
        asked = {
            "output_modalities": ["text"],
            "max_output_tokens": 4000,
            "instructions": "Hi.",
            "audio": {"output": {"voice": "ash"}},
        }
        events = await client.respond(asked)
        created = next(e for e in events if e.type == "response.created").response
        done = next(e for e in events if e.type == "response.done").response
        assert created.max_output_tokens == 256  # the forced value, not the client's 4000
        assert created.audio.output.voice == "marin"
        assert done.status == "completed"


async def test_the_stock_client_sees_refusals_as_errors_and_forced_fields_in_its_config(
    server: RunningServer,
) -> None:
    connector = connect(server.ws_url, credentials=server.api_key)
    async with connector as client:
        assert client.config.max_output_tokens == 256
        with pytest.raises(RealtimeError) as refusal:
            await client.update_session({"type": "realtime", "tools": [tool("format_disk")]})
        assert (refusal.value.code, refusal.value.param) == (
            "tool_not_allowed",
            "session.tools[0].name",
        )
        updated = await client.update_session(
            {"type": "realtime", "instructions": "Short answers.", "tools": [WEATHER]}
        )
        assert updated.session.instructions == PREFIX + "Short answers."
        assert client.config.instructions == PREFIX + "Short answers."
        assert client.config.audio.output.voice == "marin"


async def test_without_a_policy_nothing_is_refused_or_forced() -> None:
    async with running_server(ServerConfig(port=0)) as running, session(running) as client:
        updated = await update(
            client,
            {"instructions": "x" * 500, "tools": [tool("anything")], "max_output_tokens": 4096},
        )
        assert updated.session.instructions == "x" * 500
        assert updated.session.max_output_tokens == 4096
