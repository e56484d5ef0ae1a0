"""Counting prompts with SmolLM2's own tokenizer: the count is the one llama.cpp reads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from rtagents.engines.base import ChatMessage, LLMRequest, ToolCall, Usage
from rtagents.engines.local.embedded_llm import EmbeddedLLM

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def llm() -> AsyncIterator[EmbeddedLLM]:
    engine = EmbeddedLLM(threads=2)
    await engine.warm_up()
    yield engine
    await engine.aclose()


async def _reported(llm: EmbeddedLLM, instructions: str, messages: list[ChatMessage]) -> int:
    request = LLMRequest(instructions=instructions, messages=messages, max_output_tokens=1)
    usage = [c async for c in llm.stream(request) if isinstance(c, Usage)]
    return usage[0].input_tokens


async def test_the_servers_count_is_the_models_own(llm: EmbeddedLLM) -> None:
    """measure() equals the prompt_tokens llama.cpp reports for the same request."""
    histories = [
        ("You are a helpful assistant.", [ChatMessage(role="user", content="Capital of France?")]),
        ("", [ChatMessage(role="user", content="Hi there!")]),  # the template's default system
    ]
    # Assistant turns (their wrapping differs from a user turn's) in a long history.
    replies = ["The sea otter.", "A whale!\n", "1. Shark\n2. Ray", "emoji \U0001f42c dolphin"]
    long: list[ChatMessage] = []
    for turn, reply in enumerate(replies * 5):
        long.append(ChatMessage(role="user", content=f"Question {turn}: a sea animal?"))
        long.append(ChatMessage(role="assistant", content=reply))
    long.append(ChatMessage(role="user", content="One more?"))
    histories.append(("Be brief.", long))
    for instructions, messages in histories:
        size = await llm.measure(instructions, messages, ())
        assert await _reported(llm, instructions, messages) == size.total, (instructions, size)


async def test_counts_never_fall_short_where_they_are_not_exact(llm: EmbeddedLLM) -> None:
    """Content opening with whitespace joins the turn's newline: counted one over, not under."""
    messages = [
        ChatMessage(role="user", content="one two three"),
        ChatMessage(role="assistant", content="\n\nFour, five."),
        ChatMessage(role="user", content="  spaced   text \n with a newline "),
    ]
    size = await llm.measure("Be brief.", messages, ())
    assert 0 <= size.total - await _reported(llm, "Be brief.", messages) <= len(messages)
    # Tool turns are flattened to text for SmolLM2 (embedded_llm): counted as sent.
    call = ToolCall(call_id="c", name="weather", arguments='{"city": "Paris"}')
    messages = [
        ChatMessage(role="user", content="weather?"),
        ChatMessage(role="assistant", tool_calls=(call,)),
        ChatMessage(role="tool", content="sunny", tool_call_id="c"),
    ]
    size = await llm.measure("Tools.", messages, ())
    assert 0 <= size.total - await _reported(llm, "Tools.", messages) <= len(messages)


async def test_text_counts_are_cached_and_the_window_is_the_servers(llm: EmbeddedLLM) -> None:
    assert llm.context_tokens == 4096
    assert await llm.count_text("") == 0
    first = await llm.count_text("The quick brown fox jumps over the lazy dog.")
    assert 8 <= first <= 14
    assert await llm.count_text("The quick brown fox jumps over the lazy dog.") == first
