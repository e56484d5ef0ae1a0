"""openai-agents' own ``RealtimeRunner`` and WebSocket model against our server, unmodified.

The scripted engine plays the model; scenario rules choose its tool calls (a
handoff, then a function tool), so everything the official SDK sends and
parses is the real thing: session updates on a handoff, tool output, a new
response, and every server event validated by the SDK's own models.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("agents.realtime", reason="the openai-agents extra is not installed")

from agents.realtime import RealtimeRunner  # noqa: E402

from openai_agents_kit import RULES, Watcher, spoke, weather_graph  # noqa: E402
from rtagents.server.config import ServerConfig  # noqa: E402
from rtagents.server.serving import running_server  # noqa: E402


@pytest.mark.conformance(
    "session.update",
    "conversation.item.create",
    "response.create",
    "response.function_call_arguments.done",
    "response.done",
    "instructions",
    "tools[function]",
    status="supported",
    client="openai-agents",
    transport="websocket",
    note="handoff and tool turn with RealtimeRunner",
)
async def test_realtime_runner_with_its_own_model_hands_off_and_calls_a_tool(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    calls: list[str] = []
    greeter = weather_graph(calls)
    config = ServerConfig(port=0, scenario_rules=str(rules))
    async with running_server(config) as server:
        session = await RealtimeRunner(greeter).run(
            model_config={
                "url": f"{server.ws_url}?model=gpt-realtime",
                "api_key": server.api_key,
                # The SDK's default model name differs from the URL's, and a
                # live session's model cannot change: name the same one.
                "initial_model_settings": {"model_name": "gpt-realtime"},
            }
        )
        async with session:
            watcher = Watcher(session)
            try:
                await session.send_message("What's the weather like?")
                handoff = await watcher.until(lambda e: e.type == "handoff")
                assert (handoff.from_agent.name, handoff.to_agent.name) == (
                    "greeter",
                    "weather_expert",
                )
                await watcher.until(lambda e: spoke(e, "Weather desk here. Which city?"))
                await session.send_message("What is the weather in Paris?")
                ended = await watcher.until(lambda e: e.type == "tool_end")
                assert ended.tool.name == "get_weather"
                assert ended.output == "It is sunny in Paris."
                await watcher.until(lambda e: spoke(e, "It is sunny in Paris."))
            finally:
                await watcher.stop()
    assert calls == ["Paris"]  # exactly once
    assert watcher.errors() == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("openai.agents")] == []
    assert "error" not in [getattr(r, "event_type", "") for r in caplog.records]
