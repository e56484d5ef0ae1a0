"""``POST /v1/chat/completions`` driven by the official ``openai`` package on loopback."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator

import httpx
import openai
import pytest
from openai import AsyncOpenAI

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
from rtagents.engines.local.openai_compat import OpenAICompatLLM
from rtagents.engines.scripted import CallTool, Fail, Rule, Say, ScriptedLLM, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
RULES = [
    Rule(when=re.compile("weather"), then=CallTool("get_weather", {"city": "Paris"})),
    Rule(when="explode", then=Fail("the model fell over", hint="restart it")),
    Rule(when="poem", then=Say("roses are red violets are blue")),
]


_opened: list[AsyncOpenAI] = []


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, chat_max_request_bytes=64 * 1024)
    async with running_server(config, scripted_engines(RULES)) as running:
        yield running
        while _opened:
            await _opened.pop().close()


def _client(server: RunningServer, key: str | None = None) -> AsyncOpenAI:
    """An official client, closed when the server fixture ends."""
    key = key or server.api_key
    client = AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=key, max_retries=0)
    _opened.append(client)
    return client


async def test_a_plain_reply_with_usage(server: RunningServer) -> None:
    completion = await _client(server).chat.completions.create(
        model="local",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello there"},
        ],
    )
    choice = completion.choices[0]
    assert choice.message.content == "You said: hello there"
    assert choice.finish_reason == "stop"
    assert completion.model == "local"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 4  # "Be brief." + "hello there"
    assert completion.usage.completion_tokens == 4
    assert completion.usage.total_tokens == 8


async def test_a_streamed_reply_ends_with_usage_and_done(server: RunningServer) -> None:
    stream = await _client(server).chat.completions.create(
        model="local",
        messages=[{"role": "user", "content": [{"type": "text", "text": "write a poem"}]}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "roses are red violets are blue"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    assert len({c.id for c in chunks}) == 1


async def test_a_tool_call_then_its_output(server: RunningServer) -> None:
    client = _client(server)
    messages: list[dict[str, object]] = [{"role": "user", "content": "weather please"}]
    first = await client.chat.completions.create(model="m", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert first.choices[0].finish_reason == "tool_calls"
    calls = first.choices[0].message.tool_calls
    assert calls is not None and len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny"})
    second = await client.chat.completions.create(model="m", messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert second.choices[0].message.content == "The tool returned: sunny"


async def test_a_streamed_tool_call_assembles_by_index(server: RunningServer) -> None:
    stream = await _client(server).chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "weather please"}],
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    deltas = [d for c in chunks for d in (c.choices[0].delta.tool_calls or [])]
    assert deltas and {d.index for d in deltas} == {0}
    assert deltas[0].id and deltas[0].function and deltas[0].function.name == "get_weather"
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert json.loads(arguments) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert all(c.usage is None for c in chunks)  # usage only when include_usage asks


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "tools": TOOLS,
                "tool_choice": {"type": "function", "function": {"name": "nope"}},
            },
            "tool_choice.function.name",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 2}, "n"),
        (
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
                ],
            },
            "messages[0].content",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"},
            "stream",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "x"}],
            },
            "tools[0].type",
        ),
    ],
)
async def test_a_bad_request_names_the_field(
    server: RunningServer, body: dict[str, object], param: str
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with httpx.AsyncClient() as http:
        reply = await http.post(
            f"{server.http_url}/v1/chat/completions", json=body, headers=headers
        )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error"
    assert param.split("[")[0].split(".")[0] in error["message"]


async def test_the_official_client_sees_a_bad_request(server: RunningServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await _client(server).chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            max_completion_tokens=0,
        )
    assert caught.value.param == "max_completion_tokens"
    assert "max_completion_tokens" in caught.value.message


async def test_invalid_json_and_oversized_bodies(server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    url = f"{server.http_url}/v1/chat/completions"
    async with httpx.AsyncClient() as http:
        broken = await http.post(url, content=b"{not json", headers=headers)
        huge = await http.post(url, content=b"x" * (65 * 1024), headers=headers)
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "invalid_json"
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "request_too_large"


async def test_credentials(server: RunningServer) -> None:
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.AuthenticationError):
        await _client(server, "sk-wrong").chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    secret = await _client(server).realtime.client_secrets.create()
    with pytest.raises(openai.PermissionDeniedError) as caught:
        await _client(server, secret.value).chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert "server API key" in str(caught.value)


async def test_an_engine_failure_is_reported_streamed_or_not(server: RunningServer) -> None:
    messages = [{"role": "user", "content": "explode now"}]
    client = _client(server)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert caught.value.status_code == 502
    assert "the model fell over" in str(caught.value) and "restart it" in str(caught.value)
    stream = await client.chat.completions.create(model="m", messages=messages, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError, match="the model fell over"):
        async for _ in stream:
            pass
    # The server is fine afterwards.
    ok = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert ok.choices[0].message.content == "You said: hi"


async def test_another_rtagents_server_can_use_it_as_its_llm(server: RunningServer) -> None:
    """Our own OpenAI-compatible engine streams from the endpoint: tool call, then text, usage."""
    llm = OpenAICompatLLM(url=f"{server.http_url}/v1", model="m", api_key=server.api_key)
    tools = [ToolSpec(name="get_weather", parameters={"type": "object"})]
    asked = [ChatMessage(role="user", content="weather please")]
    try:
        first = [
            c async for c in llm.stream(LLMRequest(instructions="", messages=asked, tools=tools))
        ]
        deltas = [c for c in first if isinstance(c, ToolCallDelta)]
        assert {d.name for d in deltas} == {"get_weather"}
        arguments = "".join(d.arguments_delta for d in deltas)
        assert json.loads(arguments) == {"city": "Paris"}
        call = ToolCall(call_id=deltas[0].call_id, name="get_weather", arguments=arguments)
        answered = [
            *asked,
            ChatMessage(role="assistant", tool_calls=(call,)),
            ChatMessage(role="tool", content="rain", tool_call_id=call.call_id),
        ]
        second = [
            c async for c in llm.stream(LLMRequest(instructions="", messages=answered, tools=tools))
        ]
    finally:
        await llm.aclose()
    assert "".join(c.text for c in second if isinstance(c, TextDelta)) == "The tool returned: rain"
    usage = [c for c in second if isinstance(c, Usage)]
    assert len(usage) == 1 and usage[0].output_tokens == 4


async def test_a_client_that_hangs_up_stops_the_engine_and_frees_its_slot() -> None:
    stopped = asyncio.Event()

    class Endless(ScriptedLLM):
        async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
            try:
                while True:
                    yield TextDelta("word ")
                    await asyncio.sleep(0.01)
            finally:
                stopped.set()

    scripted = scripted_engines()
    engines = type(scripted)(llm=Endless(), tts=scripted.tts, name="endless")
    body = {"model": "m", "messages": [{"role": "user", "content": "go"}], "stream": True}
    config = ServerConfig(port=0, chat_max_concurrent=1)
    async with running_server(config, engines) as running:
        headers = {"Authorization": f"Bearer {running.api_key}"}
        async with httpx.AsyncClient() as http:
            url = f"{running.http_url}/v1/chat/completions"
            async with http.stream("POST", url, json=body, headers=headers) as reply:
                async for line in reply.aiter_lines():
                    if '"word ' in line:
                        break
                busy = await http.post(url, json=body, headers=headers)
            await asyncio.wait_for(stopped.wait(), 30)
            state = running.app.state.rtagents
            while state.chat_in_flight:  # noqa: ASYNC110 - the slot frees as the stream unwinds
                await asyncio.sleep(0.01)
            async with http.stream("POST", url, json=body, headers=headers) as again:
                assert again.status_code == 200  # the hung-up stream gave its slot back
    assert busy.status_code == 429 and busy.json()["error"]["code"] == "rate_limit_exceeded"


async def test_requests_arriving_together_cannot_all_pass_the_concurrency_limit() -> None:
    class Endless(ScriptedLLM):
        async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
            while True:
                yield TextDelta("word ")
                await asyncio.sleep(0.01)

    scripted = scripted_engines()
    engines = type(scripted)(llm=Endless(), tts=scripted.tts, name="endless")
    body = {"model": "m", "messages": [{"role": "user", "content": "go"}], "stream": True}
    async with running_server(ServerConfig(port=0, chat_max_concurrent=2), engines) as running:
        headers = {"Authorization": f"Bearer {running.api_key}"}
        url = f"{running.http_url}/v1/chat/completions"
        async with httpx.AsyncClient() as http:
            requests = [http.build_request("POST", url, json=body, headers=headers)] * 5
            replies = await asyncio.gather(*(http.send(r, stream=True) for r in requests))
            try:
                statuses = sorted(reply.status_code for reply in replies)
            finally:
                await asyncio.gather(*(reply.aclose() for reply in replies))
        state = running.app.state.rtagents
        while state.chat_in_flight:  # noqa: ASYNC110 - the slots free as the streams unwind
            await asyncio.sleep(0.01)
    assert statuses == [200, 200, 429, 429, 429]
