"""The ``--llm-url`` path with MCP tools: the model behind an OpenAI-compatible endpoint calls them.

The endpoint is the loopback chat-completions stub (it plays the model:
scripted replies over real HTTP); the MCP server is real. The model is
offered the MCP tool as a function with its listed schema, calls it, and
on its second pass reads the call and its output as a tool turn.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp_test_server import McpTestServer, mcp_test_server
from server_harness import RawClient, memory_session, types

from rtagents.engines.base import Engines
from rtagents.engines.local.openai_compat import OpenAICompatLLM
from rtagents.engines.scripted import ScriptedSTT, ScriptedTTS
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engines" / "local"))
from llm_stub_server import MODEL, LLMStub, Text, ToolCall, running_stub  # noqa: E402


@pytest.fixture
async def tools_server() -> AsyncIterator[McpTestServer]:
    async with mcp_test_server() as server:
        yield server


@pytest.fixture
async def stub() -> AsyncIterator[LLMStub]:
    async with running_stub() as running:
        yield running


@pytest.fixture
async def server(stub: LLMStub) -> AsyncIterator[RunningServer]:
    llm = OpenAICompatLLM(url=stub.url, model=MODEL, connect_timeout_s=2.0)
    engines = Engines(llm=llm, tts=ScriptedTTS(), stt=ScriptedSTT(), name="llm-url")
    async with running_server(ServerConfig(port=0), engines) as running:
        yield running
    await llm.aclose()


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[RawClient]:
    async with memory_session(server) as connected:
        yield connected


async def test_the_model_calls_an_mcp_tool_like_a_function(
    client: RawClient, stub: LLMStub, tools_server: McpTestServer
) -> None:
    tool = {
        "type": "mcp",
        "server_label": "shop",
        "server_url": tools_server.url,
        "allowed_tools": ["add"],
        "require_approval": "never",
    }
    session = {"type": "realtime", "output_modalities": ["text"], "tools": [tool]}
    await client.send({"type": "session.update", "session": session})
    await client.until("conversation.item.done")  # the listing
    stub.replies.append(ToolCall("add", ['{"a": 20, ', '"b": 22}'], call_id="call_model_1"))
    stub.replies.append(Text(["It is ", "42."]))
    await client.user_text("what is twenty plus twenty-two?")
    events = await client.respond()

    assert "response.mcp_call.completed" in types(events)
    done = events[-2].response
    assert [item.type for item in done.output] == ["mcp_call", "message"]
    assert done.output[0].output == "42"
    assert done.output[1].content[0].text == "It is 42."
    first, second = stub.requests[-2:]
    (offered,) = first["tools"]
    assert offered["function"]["name"] == "add"
    assert offered["function"]["parameters"]["required"] == ["a", "b"]
    call_turn, output_turn = second["messages"][-2:]
    (call,) = call_turn["tool_calls"]
    assert call["function"]["name"] == "add"
    assert json.loads(call["function"]["arguments"]) == {"a": 20, "b": 22}
    assert output_turn == {"role": "tool", "tool_call_id": call["id"], "content": "42"}
