"""What the tests of openai-agents' ``RealtimeRunner`` share: scenario rules and an event watcher.

Import it only after ``pytest.importorskip("agents.realtime")``: it needs the
openai-agents extra.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from agents.realtime import RealtimeAgent, RealtimeSession

from agents import function_tool

# A greeter that hands off to a weather expert, who calls get_weather.
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


def weather_graph(calls: list[str]) -> RealtimeAgent[Any]:
    """The greeter of ``RULES``, handing off to a weather expert whose tool logs to ``calls``."""

    @function_tool
    def get_weather(city: str) -> str:
        """Today's weather in a city."""
        calls.append(city)
        return f"It is sunny in {city}."

    expert = RealtimeAgent(
        name="weather_expert", instructions="You know the weather.", tools=[get_weather]
    )
    return RealtimeAgent(name="greeter", instructions="Greet and route.", handoffs=[expert])


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


def spoke(event: Any, text: str) -> bool:
    """A history event whose last assistant message's transcript contains ``text``."""
    if event.type != "history_updated":
        return False
    for item in reversed(event.history):
        if getattr(item, "role", None) == "assistant":
            parts = [
                getattr(p, "transcript", None) or getattr(p, "text", None) for p in item.content
            ]
            return text in " ".join(p for p in parts if p)
    return False
