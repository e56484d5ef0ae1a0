"""OpenAICompatLLM against a real chat-completions server on loopback (the stub)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from llm_stub_server import (
    MODEL,
    Endless,
    LLMStub,
    Raw,
    Stall,
    Status,
    Text,
    ToolCall,
    running_stub,
)

from rtagents.engines.base import (
    ChatMessage,
    EngineFailure,
    LLMChunk,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from rtagents.engines.base import ToolCall as HistoryCall
from rtagents.engines.local.openai_compat import (
    OpenAICompatLLM,
    api_key_from_env,
    chat_completions_url,
)

HELLO = LLMRequest(instructions="Be brief.", messages=[ChatMessage(role="user", content="hello")])


@pytest.fixture
async def stub() -> AsyncIterator[LLMStub]:
    async with running_stub() as running:
        yield running


@pytest.fixture
async def llm(stub: LLMStub) -> AsyncIterator[OpenAICompatLLM]:
    engine = OpenAICompatLLM(url=stub.url, model=MODEL, api_key="sk-test")
    yield engine
    await engine.aclose()


async def collect(llm: OpenAICompatLLM, request: LLMRequest = HELLO) -> list[LLMChunk]:
    return [chunk async for chunk in llm.stream(request)]


async def failure(llm: OpenAICompatLLM, request: LLMRequest = HELLO) -> EngineFailure:
    with pytest.raises(EngineFailure) as caught:
        await collect(llm, request)
    return caught.value


async def test_streams_text_then_usage(llm: OpenAICompatLLM) -> None:
    chunks = await collect(llm)
    assert chunks == [
        TextDelta("You said: "),
        TextDelta("hello"),
        Usage(input_tokens=11, output_tokens=3),
    ]


async def test_request_carries_instructions_history_tools_and_limits(
    llm: OpenAICompatLLM, stub: LLMStub
) -> None:
    call = HistoryCall(call_id="call_9", name="lookup", arguments='{"q": "x"}')
    request = LLMRequest(
        instructions="You are terse.",
        messages=[
            ChatMessage(role="user", content="find x"),
            ChatMessage(role="assistant", tool_calls=(call,)),
            ChatMessage(role="tool", content="x=1", tool_call_id="call_9"),
        ],
        tools=[ToolSpec(name="lookup", description="Finds things")],
        tool_choice="lookup",
        max_output_tokens=42,
    )
    await collect(llm, request)
    body = stub.requests[-1]
    assert body["model"] == MODEL and body["stream"] is True
    assert body["max_tokens"] == 42
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "find x"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "x=1"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Finds things",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert stub.headers[-1]["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
async def test_keyword_tool_choices_pass_through(
    llm: OpenAICompatLLM, stub: LLMStub, choice: str
) -> None:
    request = LLMRequest(
        instructions="", messages=HELLO.messages, tools=[ToolSpec(name="t")], tool_choice=choice
    )
    await collect(llm, request)
    assert stub.requests[-1]["tool_choice"] == choice
    assert stub.requests[-1]["messages"][0] == {"role": "user", "content": "hello"}
    assert "max_tokens" not in stub.requests[-1]


async def test_partial_tool_call_deltas_keep_id_and_name(
    llm: OpenAICompatLLM, stub: LLMStub
) -> None:
    stub.replies.append(ToolCall("get_weather", ['{"city"', ': "Par', 'is"}']))
    chunks = await collect(llm)
    calls = [c for c in chunks if isinstance(c, ToolCallDelta)]
    assert {(c.call_id, c.name) for c in calls} == {("call_stub_1", "get_weather")}
    assert json.loads("".join(c.arguments_delta for c in calls)) == {"city": "Paris"}
    assert chunks[-1] == Usage(input_tokens=20, output_tokens=7)


async def test_nothing_listening_names_the_url_and_how_to_start_a_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        llm = OpenAICompatLLM(url=f"http://127.0.0.1:{port}", model=MODEL)
        error = await failure(llm)
        await llm.aclose()
    assert f"nothing listens at http://127.0.0.1:{port}/v1/chat/completions" in str(error)
    assert "ollama serve" in error.hint and "--llm-url" in error.hint
    assert error.retryable


async def test_no_first_token_in_time_is_a_timeout_failure(stub: LLMStub) -> None:
    stub.replies.append(Stall(5.0))
    llm = OpenAICompatLLM(url=stub.url, model=MODEL, first_token_timeout_s=0.2)
    error = await failure(llm)
    await llm.aclose()
    assert "sent no token for 0.2 s" in str(error)


async def test_a_long_gap_between_tokens_is_a_timeout_failure(stub: LLMStub) -> None:
    stub.replies.append(Text(["one ", "two"], delay_s=3.0))
    llm = OpenAICompatLLM(url=stub.url, model=MODEL, token_timeout_s=0.2)
    seen: list[LLMChunk] = []
    with pytest.raises(EngineFailure, match="sent no token for 0.2 s"):
        async for chunk in llm.stream(HELLO):
            seen.append(chunk)
    await llm.aclose()
    assert seen == [TextDelta("one ")]


async def test_cancelling_the_consumer_closes_the_http_stream(
    llm: OpenAICompatLLM, stub: LLMStub
) -> None:
    stub.replies.append(Endless())
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in llm.stream(HELLO):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    assert stub.streams_open == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(stub.stream_closed.wait(), 5)
    assert stub.streams_open == 0


async def test_refused_key_says_which_variable_to_set(stub: LLMStub) -> None:
    stub.api_key = "sk-right"
    llm = OpenAICompatLLM(url=stub.url, model=MODEL, api_key="sk-wrong")
    error = await failure(llm)
    await llm.aclose()
    assert "HTTP 401" in str(error) and "Invalid API Key" in str(error)
    assert "RTAGENTS_LLM_API_KEY" in error.hint


async def test_unknown_model_says_how_to_pull_it(stub: LLMStub) -> None:
    llm = OpenAICompatLLM(url=stub.url, model="llama9")
    error = await failure(llm)
    assert "HTTP 404" in str(error) and "not found" in str(error)
    assert "ollama pull llama9" in error.hint and "--llm-model" in error.hint
    with pytest.raises(EngineFailure, match="HTTP 404") as caught:
        await llm.warm_up()
    assert "ollama pull llama9" in caught.value.hint
    await llm.aclose()


async def test_server_errors_are_retryable(llm: OpenAICompatLLM, stub: LLMStub) -> None:
    stub.replies.append(Status(503, "loading model"))
    error = await failure(llm)
    assert "HTTP 503: loading model" in str(error) and error.retryable


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("{not json", "malformed stream event: not JSON"),
        ("[1, 2]", "malformed stream event: expected a JSON object"),
        ('{"choices": 3}', "malformed stream event: 'choices' is not a list"),
        ('{"error": {"message": "kv cache full"}}', "error mid-stream: kv cache full"),
    ],
)
async def test_malformed_or_error_events_fail_with_what_came(
    llm: OpenAICompatLLM, stub: LLMStub, payload: str, expected: str
) -> None:
    stub.replies.append(Raw([payload]))
    assert expected in str(await failure(llm))


async def test_warm_up_asks_for_one_token(llm: OpenAICompatLLM, stub: LLMStub) -> None:
    await llm.warm_up()
    assert stub.requests[-1]["max_tokens"] == 1
    assert stub.requests[-1]["messages"] == [{"role": "user", "content": "Hi"}]


def test_url_forms_all_reach_chat_completions() -> None:
    for url in ("http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/v1/chat/completions"):
        assert chat_completions_url(url) == "http://h:1/v1/chat/completions"


def test_openai_key_goes_only_to_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RTAGENTS_LLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    assert api_key_from_env("https://api.openai.com/v1") == "sk-openai"
    assert api_key_from_env("http://127.0.0.1:11434") is None
    monkeypatch.setenv("RTAGENTS_LLM_API_KEY", "sk-local")
    assert api_key_from_env("http://127.0.0.1:11434") == "sk-local"


async def test_one_instance_serves_several_event_loops(stub: LLMStub) -> None:
    """A connection left in the pool by a loop that has ended must not be reused."""
    llm = OpenAICompatLLM(url=stub.url, model=MODEL)
    stub.replies.append(Status(503, "loading model"))  # an error body is read to its end
    with pytest.raises(EngineFailure, match="HTTP 503"):
        await asyncio.to_thread(asyncio.run, collect(llm))  # a loop that then closes
    again = await asyncio.to_thread(asyncio.run, collect(llm))  # another, fresh loop
    here = await collect(llm)  # and this test's own loop
    await llm.aclose()
    assert again == here and TextDelta("hello") in here


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://127.0.0.1:1", "not an http:// or https:// URL"),
        ("127.0.0.1:11434", "not an http:// or https:// URL"),
        ("http://127.0.0.1:99999", "out of range"),
    ],
)
async def test_an_unusable_url_is_a_clear_failure(url: str, expected: str) -> None:
    llm = OpenAICompatLLM(url=url, model=MODEL)
    error = await failure(llm)
    await llm.aclose()
    assert expected in str(error) and "--llm-url" in error.hint
