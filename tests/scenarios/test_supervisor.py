"""The chatSupervisor's supervisor (delegate() + ChatModel) against the real server, and how it
fails; its trace keeps the supervisor's own tool calls, bounded."""

from __future__ import annotations

import asyncio
import json

import pytest
from scenario_kit import scenario_server

from rtagents.agents import SupervisorToolCall, ToolContext
from rtagents.agents.chat import ChatModel
from rtagents.protocol.errors import ModelError, ToolError
from rtagents.scenarios.catalog import ServerLink
from rtagents.scenarios.chat_supervisor import supervisor_model, supervisor_tool
from rtagents.scenarios.supervisor import TRACE_TEXT_LIMIT, SupervisorTrace, record_call

ARGUMENT = "relevant_context_and_last_user_message"


def _ask(question: str) -> str:
    return json.dumps({ARGUMENT: question})


async def test_the_supervisor_calls_its_tool_then_answers_in_words() -> None:
    trace = SupervisorTrace()
    async with scenario_server("chat_supervisor") as server:
        tool = supervisor_tool(supervisor_model(ServerLink(server.http_url, server.api_key)))
        answer = await tool.on_invoke_tool(ToolContext(trace), _ask("Is there a store near 98101?"))
    assert "Pike Street" in answer
    assert [name for name, _, _ in trace.calls] == ["find_nearest_store"]
    assert json.loads(trace.calls[0][1]) == {"zip_code": "98101"}


async def test_the_tool_names_its_argument_as_the_rules_file_does() -> None:
    tool = supervisor_tool(supervisor_model(ServerLink("http://127.0.0.1:9", "k")))
    assert tool.params_json_schema["required"] == [ARGUMENT]
    with pytest.raises(ToolError, match=ARGUMENT):  # another name is refused, naming this one
        await tool.on_invoke_tool(ToolContext(None), json.dumps({"request": "hi"}))


async def test_a_refused_request_names_the_status() -> None:
    async with scenario_server("chat_supervisor") as server:
        tool = supervisor_tool(supervisor_model(ServerLink(server.http_url, "sk-wrong")))
        with pytest.raises(ModelError, match="HTTP 401"):
            await tool.on_invoke_tool(ToolContext(None), _ask("What about roaming?"))


async def test_a_model_that_never_answers_is_a_clear_timeout() -> None:
    released = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # take the request, never answer
        await released.wait()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        tool = supervisor_tool(ChatModel(f"http://127.0.0.1:{port}/v1", "m", timeout_s=0.2))
        with pytest.raises(ModelError, match="did not answer within 0.2 s") as caught:
            await tool.on_invoke_tool(ToolContext(None), _ask("hello"))
        assert caught.value.code == "supervisor_timeout"
    finally:
        released.set()
        listener.close()
        await listener.wait_closed()


def test_the_trace_is_bounded_and_ignores_contexts_without_one() -> None:
    trace = SupervisorTrace()
    huge = SupervisorToolCall("find_nearest_store", "x" * 10_000, "y" * 10_000, "call_1")
    for _ in range(300):
        record_call(ToolContext(trace), huge)
    assert len(trace.calls) == 256
    name, arguments, output = trace.calls[-1]
    assert len(arguments) == len(output) == TRACE_TEXT_LIMIT

    class Holder:
        supervisor_trace = SupervisorTrace()

    holder = Holder()
    record_call(ToolContext(holder), huge)
    record_call(ToolContext(object()), huge)  # no trace: nothing kept, nothing raised
    assert len(holder.supervisor_trace.calls) == 1
