"""The supervisor's Chat Completions loop against the rtagents server's endpoint."""

from __future__ import annotations

import pytest

from rtagents.agents import ToolContext, function_tool
from rtagents.agents.chat import ChatModel
from rtagents.agents.supervisor_loop import run_tool_loop
from rtagents.engines.base import LLMRequest
from rtagents.engines.scripted import CallTool, Rule, scripted_engines
from rtagents.protocol.errors import ModelError
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server


def _offered(request: LLMRequest) -> bool:
    return any(t.name in ("again", "ghost_caller") for t in request.tools)


RULES = [
    Rule(
        when=lambda r: _offered(r) and r.messages[-1].role == "user",
        then=[CallTool("again", {}), CallTool("ghost", {})],
    ),
    Rule(when=lambda r: any(t.name == "again" for t in r.tools), then=CallTool("again", {})),
]


@function_tool
def again() -> str:
    """Loops."""
    return "once more"


async def test_errors_and_endless_tool_loops_become_model_errors() -> None:
    ctx: ToolContext[None] = ToolContext(context=None)
    async with running_server(ServerConfig(port=0), scripted_engines(RULES, vad=False)) as server:
        good = ChatModel(f"{server.http_url}/v1", "m", api_key=server.api_key)
        messages = [{"role": "user", "content": "go"}]
        with pytest.raises(ModelError, match="within 3 turns") as caught:
            await run_tool_loop(good, messages, [again], ctx, max_turns=3)
        assert caught.value.code == "supervisor_max_turns"
        ghost = [m for m in messages if m.get("role") == "tool" and "ghost" in m["content"]]
        assert ghost and "no tool 'ghost'" in ghost[0]["content"]
        plain = await run_tool_loop(good, [{"role": "user", "content": "hi"}], [], ctx)
        assert plain == "You said: hi"
        wrong_key = ChatModel(f"{server.http_url}/v1", "m", api_key="nope")
        with pytest.raises(ModelError, match="HTTP 401"):
            await run_tool_loop(wrong_key, [{"role": "user", "content": "hi"}], [], ctx)
        port = server.http_url.rsplit(":", 1)[1]
    gone = ChatModel(f"http://127.0.0.1:{port}/v1", "m")
    with pytest.raises(ModelError, match="could not be reached"):
        await run_tool_loop(gone, [{"role": "user", "content": "hi"}], [], ctx)
