"""The official SDKs, unmodified, downstream of the relay: stock ``openai`` and openai-agents.

The upstream is a second rtagents server (scripted engine; scenario rules pick
the tool calls); the SDKs talk only to the relay, with the relay's own key or
an ``ek_`` secret the relay minted.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from relay_harness import relay_rig

from openai_agents_kit import RULES, Watcher, spoke, weather_graph
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer


def _client(server: RunningServer, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=key, max_retries=0)


async def _until_done(connection: Any) -> tuple[list[str], Any]:
    seen: list[str] = []
    async for event in connection:
        seen.append(event.type)
        assert event.type != "error", event
        if event.type == "response.done":
            return seen, event.response
    raise AssertionError(f"stream ended before response.done: {seen}")


async def test_stock_openai_client_with_a_relay_minted_secret() -> None:
    async with relay_rig() as rig:
        backend = _client(rig.relay, rig.relay.api_key)
        secret = await backend.realtime.client_secrets.create(
            expires_after={"anchor": "created_at", "seconds": 120},
            session={"type": "realtime", "output_modalities": ["text"]},
        )
        assert secret.value.startswith("ek_")
        app_client = _client(rig.relay, secret.value)
        async with app_client.realtime.connect(model="gpt-realtime") as connection:
            created = await connection.recv()
            assert created.type == "session.created"
            # The secret's bound config went upstream before the greeting.
            assert created.session.output_modalities == ["text"]
            await connection.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello through the relay"}],
                }
            )
            await connection.response.create()
            seen, response = await _until_done(connection)
        assert "response.output_text.delta" in seen
        assert response.status == "completed"
        assert "hello through the relay" in response.output[0].content[0].text
        await backend.close()
        await app_client.close()


async def test_openai_agents_runner_hands_off_and_calls_a_tool_through_the_relay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("agents.realtime", reason="the openai-agents extra is not installed")
    from agents.realtime import RealtimeRunner

    caplog.set_level(logging.WARNING)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    calls: list[str] = []
    upstream_config = ServerConfig(port=0, scenario_rules=str(rules))
    async with relay_rig(upstream_config=upstream_config) as rig:
        session = await RealtimeRunner(weather_graph(calls)).run(
            model_config={
                "url": f"{rig.relay.ws_url}?model=gpt-realtime",
                "api_key": rig.relay.api_key,
                "initial_model_settings": {"model_name": "gpt-realtime"},
            }
        )
        async with session:
            watcher = Watcher(session)
            try:
                await session.send_message("What's the weather like?")
                handoff = await watcher.until(lambda e: e.type == "handoff")
                assert handoff.to_agent.name == "weather_expert"
                await watcher.until(lambda e: spoke(e, "Weather desk here. Which city?"))
                await session.send_message("What is the weather in Paris?")
                ended = await watcher.until(lambda e: e.type == "tool_end")
                assert ended.output == "It is sunny in Paris."
                await watcher.until(lambda e: spoke(e, "It is sunny in Paris."))
            finally:
                await watcher.stop()
    assert calls == ["Paris"]  # exactly once
    assert watcher.errors() == []
