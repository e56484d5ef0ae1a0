"""The scripted LLM and the scripted engine set."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence

import pytest

from rtagents.engines.base import (
    LLM,
    STT,
    TTS,
    ChatMessage,
    EngineFailure,
    LLMChunk,
    LLMRequest,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from rtagents.engines.scripted import (
    GREETING,
    CallTool,
    EnergyVAD,
    Fail,
    Rule,
    Say,
    ScriptedLLM,
    scripted_engines,
)
from rtagents.engines.scripted_llm import Matcher

WEATHER = ToolSpec(name="get_weather", parameters={"type": "object"})
CLOCK = ToolSpec(name="get_time")


def _request(
    *messages: ChatMessage,
    tools: Sequence[ToolSpec] = (),
    tool_choice: str = "auto",
    max_output_tokens: int | None = None,
) -> LLMRequest:
    return LLMRequest(
        instructions="Be brief.",
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        max_output_tokens=max_output_tokens,
    )


def _user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


def _tool_output(output: str, call_id: str = "call_1") -> ChatMessage:
    return ChatMessage(role="tool", content=output, tool_call_id=call_id)


async def _collect(llm: ScriptedLLM, request: LLMRequest) -> list[LLMChunk]:
    return [chunk async for chunk in llm.stream(request)]


def _text(chunks: Sequence[LLMChunk]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextDelta))


def _calls(chunks: Sequence[LLMChunk]) -> dict[str, tuple[str, str]]:
    calls: dict[str, tuple[str, str]] = {}
    for chunk in chunks:
        if isinstance(chunk, ToolCallDelta):
            name, arguments = calls.get(chunk.call_id, (chunk.name, ""))
            calls[chunk.call_id] = (name, arguments + chunk.arguments_delta)
    return calls


async def test_default_echoes_the_user_word_by_word_then_reports_usage() -> None:
    chunks = await _collect(ScriptedLLM(), _request(_user("turn the  lights on")))
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == [
        "You ",
        "said: ",
        "turn ",
        "the  ",
        "lights ",
        "on",
    ]
    assert chunks[-1] == Usage(input_tokens=2 + 4, output_tokens=6)


async def test_default_greets_when_nobody_spoke_and_reports_tool_outputs() -> None:
    assert _text(await _collect(ScriptedLLM(), _request())) == GREETING
    request = _request(_user("weather?"), _tool_output('{"temp": 21}'))
    assert _text(await _collect(ScriptedLLM(), request)) == 'The tool returned: {"temp": 21}'


@pytest.mark.parametrize(
    "when", ["LIGHTS", re.compile(r"\blights?\b"), lambda r: len(r.messages) == 1]
)
async def test_a_rule_matches_by_substring_pattern_or_callable(when: Matcher) -> None:
    llm = ScriptedLLM([Rule(when, Say("Done."))])
    assert _text(await _collect(llm, _request(_user("turn the lights on")))) == "Done."


async def test_the_first_matching_rule_wins() -> None:
    llm = ScriptedLLM([Rule("x", Say("first")), Rule("x", Say("second"))])
    assert _text(await _collect(llm, _request(_user("x")))) == "first"


async def test_a_tool_call_streams_its_arguments_in_pieces() -> None:
    llm = ScriptedLLM([Rule("weather", CallTool("get_weather", {"city": "Paris"}))])
    chunks = await _collect(llm, _request(_user("weather in Paris?"), tools=[WEATHER]))
    deltas = [c for c in chunks if isinstance(c, ToolCallDelta)]
    assert len(deltas) >= 2
    ((call_id, (name, arguments)),) = _calls(chunks).items()
    assert call_id.startswith("call_") and name == "get_weather"
    assert json.loads(arguments) == {"city": "Paris"}
    assert isinstance(chunks[-1], Usage) and _text(chunks) == ""


async def test_call_ids_are_deterministic_yet_unique_per_call() -> None:
    rules = [Rule("go", CallTool("get_time"))]
    request = _request(_user("go"), tools=[CLOCK])
    first, second = ScriptedLLM(rules), ScriptedLLM(rules)
    ids_first = [*_calls(await _collect(first, request)), *_calls(await _collect(first, request))]
    ids_second = [
        *_calls(await _collect(second, request)),
        *_calls(await _collect(second, request)),
    ]
    assert ids_first == ids_second
    assert len(set(ids_first)) == 2


async def test_string_arguments_are_sent_verbatim_even_when_invalid() -> None:
    llm = ScriptedLLM([Rule("go", CallTool("get_time", '{"broken'))])
    calls = _calls(await _collect(llm, _request(_user("go"))))
    assert list(calls.values()) == [("get_time", '{"broken')]


async def test_text_rules_do_not_answer_a_tool_output_so_calls_do_not_loop() -> None:
    llm = ScriptedLLM([Rule("weather", CallTool("get_weather", {}))])
    assistant = ChatMessage(
        role="assistant",
        tool_calls=(ToolCall(call_id="call_1", name="get_weather", arguments="{}"),),
    )
    request = _request(_user("weather?"), assistant, _tool_output("sunny"), tools=[WEATHER])
    chunks = await _collect(llm, request)
    assert _text(chunks) == "The tool returned: sunny" and not _calls(chunks)


async def test_several_replies_run_in_order() -> None:
    llm = ScriptedLLM([Rule("both", [Say("Checking."), CallTool("get_time")])])
    chunks = await _collect(llm, _request(_user("both"), tools=[CLOCK]))
    assert _text(chunks) == "Checking." and [n for n, _ in _calls(chunks).values()] == ["get_time"]


async def test_fail_raises_an_engine_failure_with_its_hint_after_earlier_output() -> None:
    llm = ScriptedLLM([Rule("boom", [Say("Hmm"), Fail("model crashed", hint="restart it")])])
    seen: list[LLMChunk] = []
    with pytest.raises(EngineFailure, match="model crashed") as caught:
        async for chunk in llm.stream(_request(_user("boom"))):
            seen.append(chunk)
    assert caught.value.hint == "restart it" and _text(seen) == "Hmm"


async def test_max_output_tokens_stops_after_that_many_words() -> None:
    llm = ScriptedLLM([Rule("talk", [Say("one two three four"), CallTool("get_time")])])
    chunks = await _collect(llm, _request(_user("talk"), max_output_tokens=3))
    assert _text(chunks) == "one two three " and not _calls(chunks)
    assert chunks[-1] == Usage(input_tokens=3, output_tokens=3)


async def test_tool_choice_none_skips_tool_rules() -> None:
    llm = ScriptedLLM([Rule("weather", CallTool("get_weather", {}))])
    request = _request(_user("weather?"), tools=[WEATHER], tool_choice="none")
    chunks = await _collect(llm, request)
    assert _text(chunks) == "You said: weather?" and not _calls(chunks)


async def test_tool_choice_required_calls_the_first_tool_when_no_rule_calls_one() -> None:
    llm = ScriptedLLM([Rule("hi", Say("Hello."))])
    request = _request(_user("hi"), tools=[CLOCK, WEATHER], tool_choice="required")
    assert list(_calls(await _collect(llm, request)).values()) == [("get_time", "{}")]


async def test_a_named_tool_choice_forces_that_function() -> None:
    llm = ScriptedLLM([Rule("hi", CallTool("get_time"))])
    request = _request(_user("hi"), tools=[CLOCK, WEATHER], tool_choice="get_weather")
    assert list(_calls(await _collect(llm, request)).values()) == [("get_weather", "{}")]


async def test_token_delay_blocks_between_words_so_cancellation_can_land() -> None:
    llm = ScriptedLLM([Rule("slow", Say("one two", token_delay_s=3600))])
    stream = llm.stream(_request(_user("slow")))
    try:
        assert await anext(stream) == TextDelta("one ")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await anext(stream)
    finally:
        await stream.aclose()


def test_rules_and_replies_reject_bad_definitions() -> None:
    with pytest.raises(TypeError, match=r"Rule\.when"):
        Rule(42, Say("x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Rule\.then"):
        Rule("x", [])
    with pytest.raises(ValueError, match="token_delay_s"):
        Say("x", token_delay_s=-1)
    with pytest.raises(ValueError, match="CallTool.name"):
        CallTool("")


def test_scripted_engines_bundle() -> None:
    engines = scripted_engines([Rule("x", Say("y"))])
    assert engines.name == "scripted" and isinstance(engines.vad, EnergyVAD)
    assert scripted_engines(vad=False).vad is None
    assert isinstance(engines.llm, LLM) and isinstance(engines.tts, TTS)
    assert isinstance(engines.stt, STT)
