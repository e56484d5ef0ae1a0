"""RulesLLM: rules choose the tool calls, the wrapped (scripted) model speaks the rest."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from rtagents.engines.base import (
    ChatMessage,
    LLMChunk,
    LLMRequest,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from rtagents.engines.rules_llm import RulesLLM, WarmableRulesLLM, with_rules
from rtagents.engines.scenario_rules import load_scenario_rules, parse_scenario_rules
from rtagents.engines.scripted import ScriptedLLM

RULES = b"""
[agents.greeter]
tools = ["transfer_to_haiku_writer"]

[[rules]]
agent = "greeter"
regex = 'haiku about (?P<topic>[a-z]+)'
call = "transfer_to_haiku_writer"
say = "A haiku about {topic}."

[[rules]]
agent = "greeter"
keywords = ["haiku"]
call = "transfer_to_haiku_writer"

[[rules]]
regex = 'order (?P<order_id>[0-9]+)'
call = "lookup_order"
arguments = { order_id = "{order_id}", said = "{text}" }
say = "Order {output.id} is {output.status}."

[[rules]]
keywords = ["hello"]
say = "Hi there, {text}"

[[rules]]
regex = '(?:x(?P<a>1)|y(?P<b>2))'
say = "a is {a}"
"""
HANDOFF = ToolSpec(name="transfer_to_haiku_writer")
LOOKUP = ToolSpec(name="lookup_order")


def _llm() -> RulesLLM:
    return with_rules(ScriptedLLM(), parse_scenario_rules(RULES, source="test.toml"))


def _user(text: str, tools: Sequence[ToolSpec] = (), choice: str = "auto") -> LLMRequest:
    messages = [ChatMessage(role="user", content=text)]
    return LLMRequest(instructions="", messages=messages, tools=tools, tool_choice=choice)


def _after_call(text: str, name: str, output: str, tools: Sequence[ToolSpec] = ()) -> LLMRequest:
    call = ToolCall(call_id="call_1", name=name, arguments="{}")
    messages = [
        ChatMessage(role="user", content=text),
        ChatMessage(role="assistant", tool_calls=(call,)),
        ChatMessage(role="tool", content=output, tool_call_id="call_1"),
    ]
    return LLMRequest(instructions="", messages=messages, tools=tools)


async def _run(request: LLMRequest) -> tuple[str, list[ToolCallDelta], list[Usage]]:
    chunks: list[LLMChunk] = [chunk async for chunk in _llm().stream(request)]
    text = "".join(c.text for c in chunks if isinstance(c, TextDelta))
    calls = [c for c in chunks if isinstance(c, ToolCallDelta)]
    return text, calls, [c for c in chunks if isinstance(c, Usage)]


async def test_a_rule_calls_a_tool_with_arguments_from_the_words() -> None:
    text, calls, usage = await _run(_user("where is order 4521", [LOOKUP]))
    assert text == ""
    assert [c.name for c in calls] == ["lookup_order"]
    assert calls[0].call_id.startswith("call_")
    assert json.loads(calls[0].arguments_delta) == {
        "order_id": "4521",
        "said": "where is order 4521",
    }
    assert len(usage) == 1 and usage[0].output_tokens == 1


async def test_a_tool_that_is_not_offered_is_never_called() -> None:
    text, calls, _ = await _run(_user("where is order 4521"))
    assert calls == [] and text == "You said: where is order 4521"  # the model speaks


async def test_tool_choice_is_obeyed() -> None:
    _, calls, _ = await _run(_user("order 7", [LOOKUP], choice="none"))
    assert calls == []
    text, calls, _ = await _run(_user("hello you", [LOOKUP], choice="required"))
    assert {c.name for c in calls} == {"lookup_order"}  # the model's own forced call
    text, calls, _ = await _run(_user("order 7", [LOOKUP, HANDOFF], choice="lookup_order"))
    assert [c.name for c in calls] == ["lookup_order"]


async def test_the_agent_condition_follows_the_offered_tools() -> None:
    _, calls, _ = await _run(_user("a haiku about frogs", [HANDOFF]))
    assert [c.name for c in calls] == ["transfer_to_haiku_writer"]
    text, calls, _ = await _run(_user("a haiku about frogs", [LOOKUP]))
    assert calls == [] and text.startswith("You said:")


async def test_say_after_the_call_speaks_the_output() -> None:
    text, calls, _ = await _run(
        _after_call("a haiku about frogs", "transfer_to_haiku_writer", "{}")
    )
    assert calls == [] and text == "A haiku about frogs."
    output = json.dumps({"id": "4521", "status": "shipped"})
    text, _, _ = await _run(_after_call("order 4521", "lookup_order", output))
    assert text == "Order 4521 is shipped."


async def test_say_reads_the_output_of_its_own_call_among_parallel_ones() -> None:
    calls = (
        ToolCall(call_id="call_a", name="lookup_order", arguments="{}"),
        ToolCall(call_id="call_b", name="other", arguments="{}"),
    )
    messages = [
        ChatMessage(role="user", content="order 9"),
        ChatMessage(role="assistant", tool_calls=calls),
        ChatMessage(role="tool", content='{"id": "9", "status": "lost"}', tool_call_id="call_a"),
        ChatMessage(role="tool", content="unrelated", tool_call_id="call_b"),
    ]
    text, _, _ = await _run(LLMRequest(instructions="", messages=messages))
    assert text == "Order 9 is lost."


async def test_without_say_or_with_a_missing_field_the_model_speaks() -> None:
    text, _, _ = await _run(_after_call("haiku please", "transfer_to_haiku_writer", "done"))
    assert text == "The tool returned: done"
    text, _, _ = await _run(_after_call("order 4521", "lookup_order", '{"id": "4521"}'))
    assert text == 'The tool returned: {"id": "4521"}'


async def test_a_say_rule_and_an_unfilled_optional_group() -> None:
    text, _, _ = await _run(_user("hello world"))
    assert text == "Hi there, hello world"
    text, _, _ = await _run(_user("x1"))
    assert text == "a is 1"
    text, _, _ = await _run(_user("y2"))  # {a} did not take part: the rule stands aside
    assert text == "You said: y2"


async def test_only_a_user_turn_triggers_a_rule() -> None:
    messages = [
        ChatMessage(role="user", content="order 12"),
        ChatMessage(role="assistant", content="Which order?"),
    ]
    request = LLMRequest(instructions="", messages=messages, tools=[LOOKUP])
    _, calls, _ = await _run(request)
    assert calls == []


async def test_warm_up_reaches_the_wrapped_model() -> None:
    warmed: list[bool] = []

    class Loading(ScriptedLLM):
        reason = "fell back"

        async def warm_up(self) -> None:
            warmed.append(True)

    wrapped = with_rules(Loading(), parse_scenario_rules(RULES, source="t"))
    assert isinstance(wrapped, WarmableRulesLLM)
    await wrapped.warm_up()
    assert warmed == [True] and wrapped.reason == "fell back"
    assert not isinstance(_llm(), WarmableRulesLLM)


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AUTH = ["authenticate_user", "transfer_to_returns", "transfer_to_sales", "transfer_to_human_agent"]
RETURNS = ["lookup_order", "check_return_eligibility", "process_return", "transfer_to_human_agent"]
SALES = ["find_deals", "add_to_cart", "transfer_to_human_agent"]
SUPERVISOR = ["get_user_account_info", "lookup_policy_document", "find_nearest_store"]
RETAIL_WALK = [
    (
        AUTH,
        "My phone number is 206 555 0123 and I was born on March 3rd, 1990.",
        ("authenticate_user", {"phone_number": "206 555 0123", "date_of_birth": "March 3rd, 1990"}),
    ),
    (AUTH, "I'd like to return something, it arrived broken.", ("transfer_to_returns", {})),
    (AUTH, "I want to buy a new snowboard", ("transfer_to_sales", {})),
    (RETURNS, "The order number is 4521.", ("lookup_order", {"order_id": "4521"})),
    (
        RETURNS,
        "Is order 4521 eligible for a return? The bindings snapped.",
        (
            "check_return_eligibility",
            {
                "order_id": "4521",
                "reason": "Is order 4521 eligible for a return? The bindings snapped.",
            },
        ),
    ),
    (
        RETURNS,
        "Please process the return for order 4521.",
        ("process_return", {"order_id": "4521"}),
    ),
    (RETURNS, "Can I talk to a real person?", ("transfer_to_human_agent", {})),
    (SALES, "any deals on boots", ("find_deals", {"category": "boots"})),
    (SALES, "add the red helmet to my cart", ("add_to_cart", {"item": "red helmet"})),
]
SUPERVISOR_WALK = [
    (
        ["get_next_response_from_supervisor"],
        "Why is my bill so high?",
        (
            "get_next_response_from_supervisor",
            {"relevant_context_and_last_user_message": "Why is my bill so high?"},
        ),
    ),
    (["get_next_response_from_supervisor"], "Hello!", None),
    (
        SUPERVISOR,
        "bill for 206-555-0123",
        ("get_user_account_info", {"phone_number": "206-555-0123"}),
    ),
    (SUPERVISOR, "Is there a fee for roaming?", ("lookup_policy_document", {"topic": "roaming"})),
    (SUPERVISOR, "a store near 98101", ("find_nearest_store", {"zip_code": "98101"})),
    (SUPERVISOR, "why is my bill so high", None),
]


@pytest.mark.parametrize(
    ("scenario", "tools", "text", "expected"),
    [("customer_service_retail", *step) for step in RETAIL_WALK]
    + [("chat_supervisor", *step) for step in SUPERVISOR_WALK]
    + [
        (
            "simple_handoff",
            ["transfer_to_haiku_writer"],
            "a haiku please",
            ("transfer_to_haiku_writer", {}),
        ),
        ("simple_handoff", ["transfer_to_haiku_writer"], "hello", None),
    ],
)
async def test_the_documented_example_walks(
    scenario: str, tools: list[str], text: str, expected: tuple[str, dict[str, str]] | None
) -> None:
    """docs/scenario_rules.md's walk-throughs, turn by turn, against the example files."""
    rules = load_scenario_rules(EXAMPLES / scenario / "rules.toml")
    llm = with_rules(ScriptedLLM(), rules)
    request = _user(text, [ToolSpec(name=name) for name in tools])
    chunks = [chunk async for chunk in llm.stream(request)]
    calls = [c for c in chunks if isinstance(c, ToolCallDelta)]
    if expected is None:
        assert calls == [] and any(isinstance(c, TextDelta) for c in chunks)
        assert "You said" not in "".join(c.text for c in chunks if isinstance(c, TextDelta))
        return
    assert [(c.name, json.loads(c.arguments_delta)) for c in calls] == [expected]
