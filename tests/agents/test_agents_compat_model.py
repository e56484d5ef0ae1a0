"""openai-agents' ``RealtimeRunner`` on ``RtagentsRealtimeModel``: same app, resilient session.

The runner, its session and every event model are openai-agents' own; only the
``model=`` argument changes. A tool turn and a handoff run against the real
rtagents server (scripted engine, scenario rules), with a network cut between
them that the rtagents session resumes underneath: zero validation errors,
the tool once.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("agents.realtime", reason="the openai-agents extra is not installed")

from agents.realtime import RealtimeAgent, RealtimeRunner  # noqa: E402
from agents_kit import proxy_to  # noqa: E402

from openai_agents_kit import RULES, Watcher, spoke, weather_graph  # noqa: E402
from rtagents.agents.compat import RtagentsRealtimeModel  # noqa: E402
from rtagents.client import ReconnectPolicy  # noqa: E402
from rtagents.server.config import ServerConfig  # noqa: E402
from rtagents.server.serving import running_server  # noqa: E402


async def test_realtime_runner_on_the_rtagents_model_survives_a_cut(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    calls: list[str] = []
    greeter = weather_graph(calls)
    policy = ReconnectPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05, rollover_margin=None)
    async with running_server(ServerConfig(port=0, scenario_rules=str(rules))) as server:
        async with proxy_to(server) as proxy:
            model = RtagentsRealtimeModel(
                url=f"{proxy.url()}?model=gpt-realtime",
                credentials=server.api_key,
                reconnect=policy,
            )
            session = await RealtimeRunner(greeter, model=model).run(
                model_config={"initial_model_settings": {"model_name": "gpt-realtime"}}
            )
            resumed: list[bool] = []
            async with session:
                assert model.session is not None
                model.session.on("rtagents.resumed", lambda e: resumed.append(e.rebuilt))
                watcher = Watcher(session)
                try:
                    await session.send_message("What's the weather like?")
                    handoff = await watcher.until(lambda e: e.type == "handoff")
                    assert handoff.to_agent.name == "weather_expert"
                    await watcher.until(lambda e: spoke(e, "Weather desk here. Which city?"))
                    (await proxy.connection()).cut()
                    await session.send_message("What is the weather in Paris?")
                    ended = await watcher.until(lambda e: e.type == "tool_end")
                    assert ended.output == "It is sunny in Paris."
                    await watcher.until(lambda e: spoke(e, "It is sunny in Paris."))
                finally:
                    await watcher.stop()
    assert resumed == [False]  # resumed, not rebuilt: nothing lost
    assert calls == ["Paris"]
    assert watcher.errors() == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("openai.agents")] == []


async def test_the_runners_own_url_and_api_key_are_used_when_none_are_given(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    greeter = RealtimeAgent(name="greeter", instructions="Greet.")
    async with running_server(ServerConfig(port=0, scenario_rules=str(rules))) as server:
        model = RtagentsRealtimeModel()
        session = await RealtimeRunner(greeter, model=model).run(
            model_config={
                "url": f"{server.ws_url}?model=gpt-realtime",
                "api_key": server.api_key,
                "initial_model_settings": {"model_name": "gpt-realtime"},
            }
        )
        async with session:
            watcher = Watcher(session)
            try:
                await session.send_message("hello there")
                await watcher.until(lambda e: e.type == "agent_end")
            finally:
                await watcher.stop()
        assert model.session is not None and model.session.closed
    assert watcher.errors() == []
