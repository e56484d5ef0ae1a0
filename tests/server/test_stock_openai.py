"""The official ``openai`` package, unmodified, against our server on loopback."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from openai import AsyncOpenAI

from rtagents.engines.scripted import CallTool, Rule, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
RULES = [Rule(when=re.compile("weather"), then=CallTool("get_weather", {"city": "Paris"}))]


async def _until_done(connection: Any) -> tuple[list[str], Any]:
    seen: list[str] = []
    async for event in connection:
        seen.append(event.type)
        assert event.type != "error", event
        if event.type == "response.done":
            return seen, event.response
    raise AssertionError(f"stream ended before response.done: {seen}")


def _client(server: RunningServer, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=key, max_retries=0)


@pytest.mark.conformance(
    "session.created",
    "conversation.item.create",
    "response.create",
    "response.output_text.delta",
    "response.done",
    "output_modalities=text",
    "type=realtime",
    status="supported",
    client="openai",
    transport="websocket",
    note="secret minted with the SDK's client_secrets.create; its session config is used",
)
async def test_stock_client_mints_a_secret_and_runs_a_text_turn() -> None:
    async with running_server(ServerConfig(port=0)) as server:
        backend = _client(server, server.api_key)
        secret = await backend.realtime.client_secrets.create(
            expires_after={"anchor": "created_at", "seconds": 120},
            session={"type": "realtime", "output_modalities": ["text"]},
        )
        assert secret.value.startswith("ek_")
        assert secret.session.type == "realtime"
        app_client = _client(server, secret.value)
        async with app_client.realtime.connect(model="gpt-realtime") as connection:
            created = await connection.recv()
            assert created.type == "session.created"
            assert created.session.output_modalities == ["text"]
            await connection.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello there"}],
                }
            )
            await connection.response.create()
            seen, response = await _until_done(connection)
        assert "response.output_text.delta" in seen
        assert response.status == "completed"
        text = response.output[0].content[0].text
        assert "hello there" in text
        await backend.close()
        await app_client.close()


@pytest.mark.conformance(
    "session.update",
    "conversation.item.create",
    "response.create",
    "response.function_call_arguments.done",
    "response.done",
    "tools[function]",
    "tools[function].name",
    "tools[function].description",
    "tools[function].parameters",
    status="supported",
    client="openai",
    transport="websocket",
)
async def test_stock_client_function_call_round_trip() -> None:
    async with running_server(ServerConfig(port=0), scripted_engines(RULES)) as server:
        client = _client(server, server.api_key)
        async with client.realtime.connect(model="gpt-realtime") as connection:
            await connection.session.update(
                session={"type": "realtime", "output_modalities": ["text"], "tools": [TOOL]}
            )
            await connection.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "what is the weather"}],
                }
            )
            await connection.response.create()
            seen, response = await _until_done(connection)
            assert "response.function_call_arguments.done" in seen
            call = response.output[0]
            assert call.type == "function_call" and call.name == "get_weather"
            assert json.loads(call.arguments) == {"city": "Paris"}
            await connection.conversation.item.create(
                item={
                    "type": "function_call_output",
                    "call_id": call.call_id,
                    "output": json.dumps({"forecast": "sunny"}),
                }
            )
            await connection.response.create()
            _, response = await _until_done(connection)
        assert "sunny" in response.output[0].content[0].text
        await client.close()
