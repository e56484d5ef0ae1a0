"""MCP tool fields this server accepts and ignores: shown to change nothing.

``allowed_callers``, ``defer_loading`` and ``server_description`` are valid
GA fields of an MCP tool. Here the model is always the caller, every listed
tool is offered at once, and the description is not sent anywhere, so each is
echoed and then changes nothing: the same tools are listed, the model is sent
the same request, and the call runs the same. If one starts to do
something, this test fails and docs/conformance.md must say so.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
from mcp_test_server import McpTestServer, mcp_test_server
from server_harness import RawClient, memory_session

from rtagents.engines.base import Engines, LLMChunk, LLMRequest
from rtagents.engines.scripted import CallTool, Rule, ScriptedLLM, ScriptedSTT, ScriptedTTS
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

UNUSED = [
    ("allowed_callers", ["direct"]),
    ("allowed_callers", ["programmatic"]),
    ("defer_loading", True),
    ("server_description", "The shop's order tools."),
]


class WatchedLLM(ScriptedLLM):
    """The scripted model (it calls ``add`` on "add"), keeping every request it is sent."""

    def __init__(self) -> None:
        super().__init__([Rule(when="add", then=CallTool("add", {"a": 2, "b": 3}))])
        self.requests: list[LLMRequest] = []

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        self.requests.append(request)
        async for chunk in super().stream(request):
            yield chunk


@pytest.fixture
async def tools_server() -> AsyncIterator[McpTestServer]:
    async with mcp_test_server() as server:
        yield server


async def _mcp_turn(
    server: RunningServer, url: str, extra: dict[str, Any]
) -> tuple[dict[str, Any], list[str], Any]:
    """Configure the MCP tool, ask for ``add``: (the echoed tool, the listed names, the call)."""
    tool = {"type": "mcp", "server_label": "shop", "server_url": url}
    tool.update(require_approval="never", **extra)
    async with memory_session(server) as client:
        session = {"type": "realtime", "output_modalities": ["text"], "tools": [tool]}
        await client.send({"type": "session.update", "session": session})
        updated = (await client.until("session.updated"))[-1]
        listed = (await client.until("conversation.item.done"))[-1].item
        echoed = updated.session.tools[0].model_dump(mode="json", exclude_none=True)
        call = await _call(client)
    return echoed, sorted(t.name for t in listed.tools), call


def _shape(request: LLMRequest) -> Any:
    """A request without its ids (item and call ids differ from session to session)."""
    messages = [
        (m.role, m.content, [(c.name, c.arguments) for c in m.tool_calls]) for m in request.messages
    ]
    tools = list(request.tools)
    return (request.instructions, messages, tools, request.tool_choice, request.max_output_tokens)


async def _call(client: RawClient) -> Any:
    await client.user_text("please add two and three")
    events = await client.respond()
    return next(e.item for e in events if e.type == "response.output_item.done")


@pytest.mark.conformance(
    "tools[mcp].allowed_callers=direct",
    "tools[mcp].allowed_callers=programmatic",
    "tools[mcp].defer_loading",
    "tools[mcp].server_description",
    status="no-effect",
    client="raw",
    transport="in-process",
    note="echoed; same tools listed, same model request, same call",
)
@pytest.mark.parametrize(("name", "value"), UNUSED)
async def test_unused_mcp_fields_are_echoed_and_change_nothing(
    tools_server: McpTestServer, name: str, value: Any
) -> None:
    llm = WatchedLLM()
    engines = Engines(llm=llm, tts=ScriptedTTS(), stt=ScriptedSTT(), name="watched")
    async with running_server(ServerConfig(port=0, mcp_timeout_s=20.0), engines) as server:
        plain = await _mcp_turn(server, tools_server.url, {})
        plain_requests = list(llm.requests)
        llm.requests.clear()
        with_field = await _mcp_turn(server, tools_server.url, {name: value})
    assert with_field[0][name] == value
    assert with_field[1] == plain[1] and plain[1]
    assert [_shape(r) for r in llm.requests] == [_shape(r) for r in plain_requests]
    assert (
        (with_field[2].name, with_field[2].output)
        == (plain[2].name, plain[2].output)
        == (
            "add",
            "5",
        )
    )
