"""A real rtagents server whose LLM is an OpenAI-compatible endpoint (the loopback stub).

This is the ``--llm-url`` path end to end: Realtime events in (over the memory
transport; the socket is not the subject), chat-completions HTTP out, and back
as GA events, including what a client sees when the model server goes away
(and comes back).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from server_harness import RawClient, memory_session, types

from rtagents.engines.base import Engines
from rtagents.engines.local.openai_compat import OpenAICompatLLM
from rtagents.engines.scripted import ScriptedSTT, ScriptedTTS
from rtagents.protocol.errors import Category, classify_error_payload
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

# The stub lives with the engine tests; pytest only puts this file's folder on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines" / "local"))
from llm_stub_server import MODEL, LLMStub, ToolCall, running_stub  # noqa: E402

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TEXT = {"output_modalities": ["text"]}


@pytest.fixture
async def stub() -> AsyncIterator[LLMStub]:
    async with running_stub() as running:
        yield running


@pytest.fixture
async def llm(stub: LLMStub) -> AsyncIterator[OpenAICompatLLM]:
    engine = OpenAICompatLLM(url=stub.url, model=MODEL, connect_timeout_s=2.0)
    yield engine
    await engine.aclose()


@pytest.fixture
async def server(llm: OpenAICompatLLM) -> AsyncIterator[RunningServer]:
    engines = Engines(llm=llm, tts=ScriptedTTS(), stt=ScriptedSTT(), name="llm-url")
    async with running_server(ServerConfig(port=0), engines) as running:
        yield running


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[RawClient]:
    async with memory_session(server) as connected:
        yield connected


async def test_text_turn_streams_the_endpoints_reply(client: RawClient, stub: LLMStub) -> None:
    await client.user_text("hello there")
    events = await client.respond(TEXT)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "You said: hello there"
    done = events[-2].response
    assert done.status == "completed"
    assert (done.usage.input_tokens, done.usage.output_tokens) == (11, 3)
    assert stub.requests[-1]["messages"][-1] == {"role": "user", "content": "hello there"}


async def test_function_call_turn_becomes_ga_function_call_events(
    client: RawClient, stub: LLMStub
) -> None:
    await client.roundtrip(
        {"type": "session.update", "session": {"type": "realtime", "tools": [TOOL]}},
        "session.updated",
    )
    stub.replies.append(ToolCall("get_weather", ['{"city": ', '"Paris"}']))
    await client.user_text("weather in Paris?")
    events = await client.respond()
    assert "response.function_call_arguments.delta" in types(events)
    call = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert call.name == "get_weather" and call.call_id.startswith("call_")
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert events[-2].response.status == "completed"
    sent = stub.requests[-1]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tool_choice"] == "auto"
    # The tool's result goes back as a role=tool turn answering that call.
    output = {"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "clear"}'}
    await client.send({"type": "conversation.item.create", "item": output})
    await client.until("conversation.item.done")
    await client.respond(TEXT)
    history = stub.requests[-1]["messages"]
    assert history[-2]["tool_calls"][0]["id"] == call.call_id
    assert history[-1] == {
        "role": "tool",
        "tool_call_id": call.call_id,
        "content": '{"sky": "clear"}',
    }


async def test_endpoint_down_fails_the_response_with_a_model_error_then_recovers() -> None:
    async with running_stub() as first:
        port = int(first.url.rsplit(":", 1)[1])
    # The stub is gone; point a server at where it was.
    down = OpenAICompatLLM(url=f"http://127.0.0.1:{port}", model=MODEL, connect_timeout_s=2.0)
    engines = Engines(llm=down, tts=ScriptedTTS(), stt=ScriptedSTT(), name="llm-url")
    async with running_server(ServerConfig(port=0), engines) as server:
        async with memory_session(server) as client:
            await client.user_text("anyone there?")
            events = await client.respond(TEXT)
            error = next(e for e in events if e.type == "error").error
            assert classify_error_payload(error.type, error.code) is Category.MODEL
            assert f"nothing listens at http://127.0.0.1:{port}" in error.message
            assert "ollama serve" in error.message and "--llm-url" in error.message
            done = events[-2].response
            assert done.status == "failed" and done.status_details.error.code == "engine_failure"
            # The session survives, and works again once the model server is back.
            async with running_stub(port=port):
                await client.user_text("and now?")
                events = await client.respond(TEXT)
            assert events[-2].response.status == "completed"
            text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
            assert text == "You said: and now?"
    await down.aclose()
