"""The chatSupervisor's supervisor loop against the real server, and how it fails."""

from __future__ import annotations

import asyncio

import pytest
from scenario_kit import scenario_server

from rtagents.agents import ToolContext
from rtagents.scenarios.chat_supervisor import SUPERVISOR_INSTRUCTIONS, SUPERVISOR_TOOLS
from rtagents.scenarios.supervisor import Supervisor, SupervisorTrace


async def test_the_supervisor_calls_its_tool_then_answers_in_words() -> None:
    trace = SupervisorTrace()
    async with scenario_server("chat_supervisor") as server:
        supervisor = Supervisor(
            server.http_url, server.api_key, SUPERVISOR_INSTRUCTIONS, SUPERVISOR_TOOLS
        )
        answer = await supervisor.answer(ToolContext(trace), "Is there a store near 98101?")
    assert "Pike Street" in answer
    assert [name for name, _, _ in trace.calls] == ["find_nearest_store"]


async def test_a_refused_request_names_the_status() -> None:
    async with scenario_server("chat_supervisor") as server:
        supervisor = Supervisor(
            server.http_url, "sk-wrong", SUPERVISOR_INSTRUCTIONS, SUPERVISOR_TOOLS
        )
        with pytest.raises(RuntimeError, match="HTTP 401"):
            await supervisor.answer(ToolContext(None), "What about roaming?")


async def test_a_model_that_never_answers_is_a_clear_timeout() -> None:
    released = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # take the request, never answer
        await released.wait()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        supervisor = Supervisor(
            f"http://127.0.0.1:{port}",
            "sk-x",
            SUPERVISOR_INSTRUCTIONS,
            SUPERVISOR_TOOLS,
            timeout_s=0.2,
        )
        with pytest.raises(RuntimeError, match="did not answer within 0.2 s"):
            await supervisor.answer(ToolContext(None), "hello")
    finally:
        released.set()
        listener.close()
        await listener.wait_closed()
