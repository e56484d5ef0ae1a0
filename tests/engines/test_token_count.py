"""The fallback count: one token per word, the scripted engine's own rule."""

from __future__ import annotations

from rtagents.engines.base import ChatMessage, ToolCall, ToolSpec
from rtagents.engines.scripted import ScriptedLLM
from rtagents.engines.token_count import PromptSize, WordCounter, prompt_measurer


async def test_words_are_counted_in_messages_calls_and_tools() -> None:
    call = ToolCall(call_id="c", name="lookup", arguments='{"city": "Paris"}')
    messages = [
        ChatMessage(role="user", content="what is  the weather"),
        ChatMessage(role="assistant", tool_calls=(call,)),
    ]
    tool = ToolSpec(name="lookup", description="find a city", parameters={})
    size = await WordCounter().measure("Be brief.", messages, [tool])
    assert size == PromptSize(2 + 5, (4, 3))  # tool: name, 3 words, "{}"
    assert size.total == 14
    assert await WordCounter().count_text("one two  three") == 3


def test_engines_that_do_not_count_get_the_word_counter() -> None:
    measurer = prompt_measurer(ScriptedLLM())
    assert isinstance(measurer, WordCounter) and measurer.context_tokens is None

    class Windowed(ScriptedLLM):
        context_tokens = 512

    assert prompt_measurer(Windowed()).context_tokens == 512
