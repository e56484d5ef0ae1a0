"""Scenario rules on a real server: labelled in the log and /healthz, driving Realtime and Chat."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI
from server_harness import memory_session, types

from rtagents.engines.local.openai_compat import OpenAICompatLLM
from rtagents.engines.scenario_rules import ScenarioRulesError
from rtagents.engines.scripted import scripted_engines
from rtagents.server.app import create_app
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HANDOFF_RULES = str(EXAMPLES / "simple_handoff" / "rules.toml")
SUPERVISOR_RULES = str(EXAMPLES / "chat_supervisor" / "rules.toml")
RULE_DRIVEN = "tool choice is rule-driven, not model-driven"


async def _health(server: RunningServer) -> dict[str, object]:
    async with httpx.AsyncClient() as http:
        reply = await http.get(f"{server.http_url}/healthz")
    body: dict[str, object] = reply.json()
    return body


async def test_rules_are_labelled_in_the_log_and_on_healthz(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="rtagents")
    config = ServerConfig(port=0, scenario_rules=HANDOFF_RULES)
    async with running_server(config) as server:
        health = await _health(server)
    assert health["scenario_rules"] == {
        "file": HANDOFF_RULES,
        "rules": 3,
        "active": True,
        "note": RULE_DRIVEN,
    }
    assert f"scenario rules from {HANDOFF_RULES}: 3 rules; {RULE_DRIVEN}" in caplog.text


async def test_without_rules_healthz_says_so() -> None:
    async with running_server(ServerConfig(port=0)) as server:
        assert (await _health(server))["scenario_rules"] == {"active": False}


async def test_a_model_that_chooses_tools_turns_the_rules_off_unless_forced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engines = scripted_engines()
    remote = OpenAICompatLLM(url="http://127.0.0.1:9/v1", model="llama3.2")
    try:
        with_model = type(engines)(llm=remote, tts=engines.tts, name="remote")
        app = create_app(ServerConfig(scenario_rules=HANDOFF_RULES), with_model)
        status = app.state.rtagents.scenario
        assert status["active"] is False and status["note"] == "the model chooses tools"
        assert "chooses tools itself" in caplog.text
        forced = ServerConfig(scenario_rules=HANDOFF_RULES, scenario_rules_forced=True)
        assert create_app(forced, with_model).state.rtagents.scenario["active"] is True
    finally:
        await remote.aclose()


def test_a_broken_rules_file_stops_the_server_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[[rules]]\nsay = 'x'\n")
    with pytest.raises(ScenarioRulesError, match=r"rules\[0\]: give exactly one trigger"):
        create_app(ServerConfig(scenario_rules=str(path)))


async def test_a_realtime_handoff_chosen_by_a_rule() -> None:
    handoff = {
        "type": "function",
        "name": "transfer_to_haiku_writer",
        "description": "Hand the caller to the haiku writer.",
        "parameters": {"type": "object", "properties": {}},
    }
    config = ServerConfig(port=0, scenario_rules=HANDOFF_RULES)
    async with running_server(config) as server, memory_session(server) as client:
        update = {"type": "realtime", "output_modalities": ["text"], "tools": [handoff]}
        await client.roundtrip({"type": "session.update", "session": update}, "session.updated")
        await client.user_text("please write a haiku about frogs")
        events = await client.respond()
        assert "error" not in types(events)
        call = next(e for e in events if e.type == "response.function_call_arguments.done")
        assert call.name == "transfer_to_haiku_writer" and json.loads(call.arguments) == {}
        output = {"type": "function_call_output", "call_id": call.call_id, "output": "{}"}
        await client.send({"type": "conversation.item.create", "item": output})
        await client.until("conversation.item.done")
        events = await client.respond()
        text = events[-2].response.output[0].content[0].text
        assert text.startswith("A haiku about frogs: frogs in still water")


async def test_the_supervisor_calls_its_tool_over_chat_completions() -> None:
    tools = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
        for name in ("get_user_account_info", "lookup_policy_document", "find_nearest_store")
    ]
    config = ServerConfig(port=0, scenario_rules=SUPERVISOR_RULES)
    async with running_server(config) as server:
        client = AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=server.api_key)
        try:
            reply = await client.chat.completions.create(
                model="supervisor",
                messages=[
                    {"role": "system", "content": "You supervise a junior agent."},
                    {
                        "role": "user",
                        "content": "Why is my bill so high? My number is 206-555-0123",
                    },
                ],
                tools=tools,  # type: ignore[arg-type]
            )
        finally:
            await client.close()
    calls = reply.choices[0].message.tool_calls
    assert calls is not None and calls[0].function.name == "get_user_account_info"
    assert json.loads(calls[0].function.arguments) == {"phone_number": "206-555-0123"}


async def test_the_local_engine_set_keeps_its_warm_up_behind_the_rules() -> None:
    """``--engine local``: the embedded LLM is wrapped, and still warmed and reported."""
    from rtagents.engines.local.factory import local_engines
    from rtagents.engines.rules_llm import WarmableRulesLLM
    from rtagents.engines.warmup import close_engines

    engines = local_engines()
    try:
        state = create_app(ServerConfig(scenario_rules=HANDOFF_RULES), engines).state.rtagents
        assert isinstance(state.engines.llm, WarmableRulesLLM)
        assert state.engines.llm.inner is engines.llm
        assert state.warmup.report()["engines"]["llm"]["state"] == "pending"
        assert state.scenario["active"] is True
    finally:
        await close_engines(engines)
