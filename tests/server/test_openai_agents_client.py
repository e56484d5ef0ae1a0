"""openai-agents' own ``RealtimeRunner`` and WebSocket model against our server, unmodified.

The scripted engine plays the model; scenario rules choose its tool calls (a
handoff, then a function tool), so everything the official SDK sends and
parses is the real thing: session updates on a handoff, tool output, a new
response, and every server event validated by the SDK's own models.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents.realtime", reason="the openai-agents extra is not installed")

from agents.realtime import RealtimeAgent, RealtimeRunner, RealtimeSession  # noqa: E402

from agents import function_tool  # noqa: E402
from rtagents.server.config import ServerConfig  # noqa: E402
from rtagents.server.runner import running_server  # noqa: E402

RULES = """
[agents.greeter]
tools = ["transfer_to_weather_expert"]

[agents.weather_expert]
tools = ["get_weather"]

[[rules]]
agent = "greeter"
keywords = ["weather"]
call = "transfer_to_weather_expert"
say = "Weather desk here. Which city?"

[[rules]]
agent = "weather_expert"
regex = 'weather in (?P<city>[a-z]+)'
call = "get_weather"
arguments = { city = "{city}" }
say = "{output}"
"""
TIMEOUT_S = 30.0  # generous: CI is a loaded 2-core machine


class Watcher:
    """Reads the session's events in the background; tests wait on what has been seen."""

    def __init__(self, session: RealtimeSession) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._read(session))

    async def _read(self, session: RealtimeSession) -> None:
        async for event in session:
            if event.type == "audio":
                continue
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    async def until(self, predicate: Callable[[Any], bool]) -> Any:
        async with asyncio.timeout(TIMEOUT_S), self._changed:
            await self._changed.wait_for(lambda: any(predicate(e) for e in self.events))
        return next(e for e in self.events if predicate(e))

    def errors(self) -> list[Any]:
        raw = [e for e in self.events if e.type == "raw_model_event"]
        bad = [e for e in raw if e.data.type in ("error", "exception")]
        return bad + [e for e in self.events if e.type == "error"]

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_realtime_runner_with_its_own_model_hands_off_and_calls_a_tool(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Today's weather in a city."""
        calls.append(city)
        return f"It is sunny in {city}."

    expert = RealtimeAgent(
        name="weather_expert", instructions="You know the weather.", tools=[get_weather]
    )
    greeter = RealtimeAgent(name="greeter", instructions="Greet and route.", handoffs=[expert])
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
                await watcher.until(lambda e: _spoke(e, "Weather desk here. Which city?"))
                await session.send_message("What is the weather in Paris?")
                ended = await watcher.until(lambda e: e.type == "tool_end")
                assert ended.tool.name == "get_weather"
                assert ended.output == "It is sunny in Paris."
                await watcher.until(lambda e: _spoke(e, "It is sunny in Paris."))
            finally:
                await watcher.stop()
    assert calls == ["Paris"]  # exactly once
    assert watcher.errors() == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("openai.agents")] == []
    assert "error" not in [getattr(r, "event_type", "") for r in caplog.records]


def _spoke(event: Any, text: str) -> bool:
    """A history event whose last assistant message's transcript is ``text``."""
    if event.type != "history_updated":
        return False
    for item in reversed(event.history):
        if getattr(item, "role", None) == "assistant":
            parts = [
                getattr(p, "transcript", None) or getattr(p, "text", None) for p in item.content
            ]
            return text in " ".join(p for p in parts if p)
    return False
