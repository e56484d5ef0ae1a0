"""Loading scenario rules files: the examples load, and every mistake names its rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtagents.engines.base import ChatMessage, LLMRequest, ToolSpec
from rtagents.engines.scenario_rules import (
    ScenarioRulesError,
    load_scenario_rules,
    parse_scenario_rules,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("scenario", "count"),
    [("simple_handoff", 3), ("customer_service_retail", 10), ("chat_supervisor", 7)],
)
def test_the_example_files_load(scenario: str, count: int) -> None:
    rules = load_scenario_rules(EXAMPLES / scenario / "rules.toml")
    assert len(rules.rules) == count
    assert rules.source.endswith(f"{scenario}/rules.toml")


def test_json_works_too(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text('{"rules": [{"keywords": ["hi"], "say": "hello"}]}')
    assert load_scenario_rules(path).rules[0].say == "hello"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules = 3", "rules: Input should be a valid list"),
        ("[[rules]]\nsay = 'x'", "rules[0]: give exactly one trigger"),
        ("[[rules]]\nalways = true\nkeywords = ['a']\nsay = 'x'", "exactly one trigger"),
        ("[[rules]]\nalways = true", "rules[0]: give 'call'"),
        ("[[rules]]\nalways = true\nsay = 'x'\narguments = {a = 1}", "'arguments' needs 'call'"),
        ("[[rules]]\nregex = '('\nsay = 'x'", "'regex' does not compile"),
        ("[[rules]]\nalways = true\ncall = 'bad name!'", "rules[0].call: String should match"),
        ("[[rules]]\nalways = true\nsay = 'x'\nsaid = 'y'", "rules[0].said: Extra inputs"),
        ("[[rules]]\nalways = true\nsay = '{who}'", "placeholder {who} in 'say' is unknown"),
        ("[[rules]]\nalways = true\nsay = '{output}'", "placeholder {output} in 'say'"),
        (
            "[[rules]]\nregex = 'order (?P<id>\\d+)'\ncall = 'f'\narguments = {x = '{idd}'}",
            "placeholder {idd} in 'arguments'",
        ),
        ("[[rules]]\nagent = 'ghost'\nalways = true\nsay = 'x'", "no [agents.ghost] table"),
        ("[agents.a]\n[[rules]]\nalways = true\nsay = 'x'", "agents.a: an agent needs"),
        ("rules = [", "not valid TOML"),
        ("", "rules: Field required"),
    ],
)
def test_mistakes_are_named(text: str, expected: str) -> None:
    with pytest.raises(ScenarioRulesError) as caught:
        parse_scenario_rules(text.encode(), source="s.toml")
    assert str(caught.value).startswith("scenario rules file s.toml: ")
    assert expected in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioRulesError, match="nope.toml: cannot read it"):
        load_scenario_rules(tmp_path / "nope.toml")


def test_keywords_match_whole_words_case_insensitively() -> None:
    rules = parse_scenario_rules(
        b"[[rules]]\nkeywords = ['haiku', 'a person']\nsay = 'x'", source="s"
    )
    rule = rules.rules[0]
    assert rule.match("A HAIKU please") == {"text": "A HAIKU please"}
    assert rule.match("talk to a person.") is not None
    assert rule.match("haikus") is None


def test_regex_groups_become_values() -> None:
    raw = (
        b"[[rules]]\nregex = 'order (?P<order_id>\\d+)'\n"
        b"call = 'f'\narguments = {id = '{order_id}'}"
    )
    rule = parse_scenario_rules(raw, source="s").rules[0]
    assert rule.match("my ORDER 42 broke") == {"order_id": "42", "text": "my ORDER 42 broke"}


def test_an_agent_is_recognised_by_its_tools_and_instructions() -> None:
    raw = b"""
[agents.greeter]
tools = ["transfer_to_b"]
instructions_contain = "greet"
[[rules]]
agent = "greeter"
always = true
say = "x"
"""
    rules = parse_scenario_rules(raw, source="s")
    rule = rules.rules[0]

    def request(tools: list[str], instructions: str) -> LLMRequest:
        return LLMRequest(
            instructions=instructions,
            messages=[ChatMessage(role="user", content="hi")],
            tools=[ToolSpec(name=name) for name in tools],
        )

    assert rules.applies(rule, request(["transfer_to_b", "other"], "You GREET people."))
    assert not rules.applies(rule, request(["other"], "You greet people."))
    assert not rules.applies(rule, request(["transfer_to_b"], "You write haiku."))
