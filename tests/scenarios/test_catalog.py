"""The scenario catalogue: names, packaged rules equal to the examples', agent graphs that
name exactly the tools and agents their rules expect."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rtagents.agents import RunContext, reachable
from rtagents.engines.scenario_rules import load_scenario_rules
from rtagents.scenarios import SCENARIOS, ServerLink, agent_names

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LINK = ServerLink("http://127.0.0.1:9", "sk-test")


def test_the_three_reference_scenarios_are_listed() -> None:
    assert list(SCENARIOS) == ["simple_handoff", "customer_service_retail", "chat_supervisor"]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_packaged_rules_are_the_examples_rules(name: str) -> None:
    packaged = SCENARIOS[name].rules_file
    assert packaged.read_bytes() == (EXAMPLES / name / "rules.toml").read_bytes()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_rule_names_an_agent_and_tool_the_graph_has(name: str) -> None:
    scenario = SCENARIOS[name]
    rules = load_scenario_rules(scenario.rules_file)
    root = scenario.build(LINK)
    offered = asyncio.run(_tools_by_agent(root))
    for agent, signature in rules.agents.items():
        if agent in ("supervisor", "filler"):  # the delegate's text model, not a voice agent
            continue
        assert agent in offered, f"{agent} is not in {name}'s agent graph"
        assert set(signature.tools) <= offered[agent]
    every_tool = set().union(*offered.values())
    called = {rule.call for rule in rules.rules if rule.call}
    supervisor = set(rules.agents["supervisor"].tools) if "supervisor" in rules.agents else set()
    assert called - supervisor <= every_tool
    assert agent_names(root)[0] == list(offered)[0]


async def _tools_by_agent(root: object) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for agent in reachable(root):  # type: ignore[arg-type]
        config = await agent.session_config(RunContext(None), voice=False)
        found[agent.name] = {tool["name"] for tool in config["tools"]}
    return found
