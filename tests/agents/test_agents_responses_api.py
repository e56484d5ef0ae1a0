"""The supervisor on the Responses API: tool loop, a deadline, and answers it cannot use.

The model is a real HTTP server on loopback (``responses_server``) that checks
each request against the ``openai`` package's types and answers full
``Response`` bodies; the voice side, where there is one, is the rtagents server
on the scripted model.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from agents_kit import Recorder, runner_for
from responses_server import (
    API_KEY,
    function_call,
    message,
    reasoning,
    response_body,
    responses_server,
)
from starlette.responses import JSONResponse
from starlette.responses import Response as StarletteResponse
from supervisor_kit import lookup_order, lookups, offers

from rtagents.agents import Agent, ChatModel, ToolContext, delegate
from rtagents.agents.responses_api import as_input
from rtagents.agents.supervisor_loop import run_tool_loop
from rtagents.engines.scripted import CallTool, Rule, Say, scripted_engines
from rtagents.protocol.errors import Category, ModelError, ToolError
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server

CTX: ToolContext[None] = ToolContext(context=None)


def _outputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in body["input"] if item.get("type") == "function_call_output"]


async def supervisor(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Looks the order up first (thinking, then calling), then answers from the output."""
    outputs = _outputs(body)
    if not outputs:
        return [reasoning(), function_call("lookup_order", {"order": "A1"})]
    status = json.loads(outputs[-1]["output"])["status"]
    return [message(f"Order A1 has {status}.")]


def _model(base_url: str, **options: Any) -> ChatModel:
    return ChatModel(base_url, "gpt-4.1", api_key=API_KEY, api="responses", **options)


async def test_the_supervisor_calls_its_tool_and_answers_with_the_output() -> None:
    lookups.clear()
    async with responses_server(supervisor) as server:
        messages = [
            {"role": "system", "content": "You are the supervisor."},
            {"role": "user", "content": "Where is order A1?"},
        ]
        answer = await run_tool_loop(_model(server.base_url), messages, [lookup_order], CTX)
    assert answer == "Order A1 has shipped." and lookups == ["A1"]
    assert server.rejected == []
    first, second = server.requests
    assert first["instructions"] == "You are the supervisor."
    assert first["input"] == [{"type": "message", "role": "user", "content": "Where is order A1?"}]
    (tool,) = first["tools"]
    assert tool["name"] == "lookup_order" and tool["strict"] is False
    assert tool["parameters"]["required"] == ["order"]
    # The turn's output items go back as they came (reasoning too), then the output.
    thought, call, output = second["input"][1:]
    assert thought["type"] == "reasoning" and call["type"] == "function_call"
    assert output == {
        "type": "function_call_output",
        "call_id": call["call_id"],
        "output": json.dumps({"order": "A1", "status": "shipped"}),
    }


async def test_the_answer_is_bounded_and_each_call_reported() -> None:
    lookups.clear()
    calls: list[tuple[str, str, str]] = []
    async with responses_server(supervisor) as server:
        model = _model(server.base_url, max_tokens=64)
        messages = [{"role": "user", "content": "Where is order A1?"}]
        await run_tool_loop(
            model,
            messages,
            [lookup_order],
            CTX,
            on_tool_call=lambda ctx, call: calls.append((call.name, call.call_id, call.output)),
        )
    assert server.rejected == []
    assert [r["max_output_tokens"] for r in server.requests] == [64, 64]
    call_id = _outputs(server.requests[1])[0]["call_id"]
    assert calls == [("lookup_order", call_id, json.dumps({"order": "A1", "status": "shipped"}))]


async def test_bad_calls_go_back_as_outputs_and_an_endless_loop_stops() -> None:
    async def confused(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [function_call("ghost", {}), function_call("lookup_order", {"order": 7})]

    async with responses_server(confused) as server:
        with pytest.raises(ModelError, match="within 2 turns") as caught:
            await run_tool_loop(
                _model(server.base_url),
                [{"role": "user", "content": "go"}],
                [lookup_order],
                CTX,
                max_turns=2,
            )
    assert caught.value.code == "supervisor_max_turns"
    errors = [json.loads(o["output"])["error"] for o in _outputs(server.requests[-1])]
    assert "no tool 'ghost'" in errors[0] and "order" in errors[1]


@pytest.mark.parametrize(
    ("answer", "wanted"),
    [
        ({"id": "resp_1", "object": "response"}, "'output' is NoneType, not a list"),
        ({"status": "completed", "output": ["text"]}, r"output\[0\] is not an item"),
        (
            {"output": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            r"output\[0\]\.call_id must be a non-empty string",
        ),
        (
            {"output": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]},
            r"output\[0\]\.arguments must be a JSON string",
        ),
        ({"output": [{"type": "message", "content": "hi"}]}, r"output\[0\]\.content must be"),
        ({"status": "queued", "output": []}, "status is 'queued'"),
        (
            {"status": "failed", "error": {"code": "server_error", "message": "overloaded"}},
            r"failed: overloaded \(server_error\)",
        ),
        (
            {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}},
            r"incomplete \(max_output_tokens\)",
        ),
        ([1, 2], "not a JSON object"),
        ("<html>busy</html>", "not JSON"),
    ],
)
async def test_an_answer_it_cannot_use_is_a_clear_model_error(answer: Any, wanted: str) -> None:
    async def broken(body: dict[str, Any]) -> StarletteResponse:
        if isinstance(answer, str):
            return StarletteResponse(answer, media_type="text/html")
        return JSONResponse(answer)

    async with responses_server(broken) as server:
        with pytest.raises(ModelError, match=wanted) as caught:
            await run_tool_loop(
                _model(server.base_url), [{"role": "user", "content": "hi"}], [], CTX
            )
    assert caught.value.category is Category.MODEL
    assert caught.value.code in ("supervisor_failed", "supervisor_incomplete")


async def test_http_errors_and_a_wrong_key_are_model_errors() -> None:
    async with responses_server(supervisor) as server:
        wrong = ChatModel(server.base_url, "m", api_key="nope", api="responses")
        with pytest.raises(ModelError, match="HTTP 401.*invalid_api_key") as caught:
            await run_tool_loop(wrong, [{"role": "user", "content": "hi"}], [], CTX)
        assert caught.value.category is Category.MODEL
        port = server.base_url.rsplit(":", 1)[1]
    with pytest.raises(ModelError, match="could not be reached"):
        gone = ChatModel(f"http://127.0.0.1:{port}", "m", api="responses")
        await run_tool_loop(gone, [{"role": "user", "content": "hi"}], [], CTX)


async def test_a_supervisor_past_its_deadline_is_cut_off() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(body: dict[str, Any]) -> list[dict[str, Any]]:
        started.set()
        await release.wait()  # far past the deadline: the test lets it go at the end
        return [message("late")]

    async with responses_server(slow) as server:
        ask = delegate(_model(server.base_url), instructions="Supervise.", deadline_s=0.5)
        with pytest.raises(ToolError, match="did not answer within 0.5 s") as caught:
            await ask.on_invoke_tool(CTX, json.dumps({"request": "order A1"}))
        assert started.is_set() and caught.value.code == "tool_timeout"
        release.set()


async def test_the_junior_speaks_what_a_responses_supervisor_answers() -> None:
    lookups.clear()
    rules = [
        Rule(when=lambda r: r.instructions.startswith("Say exactly"), then=Say("One moment.")),
        Rule(when=offers("ask_supervisor"), then=CallTool("ask_supervisor", {"request": "A1"})),
    ]
    engines = scripted_engines(rules, vad=False)
    async with (
        responses_server(supervisor) as text,
        running_server(ServerConfig(port=0), engines) as voice,
    ):
        ask = delegate(
            _model(text.base_url),
            instructions="Supervise.",
            tools=[lookup_order],
            filler="One moment.",
        )
        junior: Agent[None] = Agent(name="Junior", instructions="Ask the supervisor.", tools=[ask])
        session = await runner_for(voice, junior).run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("where is my order")
            (end,) = await recorder.count("tool_end", 1)
            assert end.error is None and end.output == "Order A1 has shipped."
            await recorder.count("agent_end", 3)  # the call, the filler, the answer
            finals = [e.text for e in recorder.of("transcript") if e.final]
            assert finals[0] == "One moment." and "shipped" in finals[-1]
        await recorder.stop()
    assert lookups == ["A1"] and text.rejected == []
    assert "user: where is my order" in text.requests[0]["input"][0]["content"]


def test_chat_messages_become_instructions_and_items() -> None:
    instructions, items = as_input(
        [
            {"role": "system", "content": "A."},
            {"role": "developer", "content": "B."},
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ]
    )
    assert instructions == "A.\n\nB."
    assert items == [
        {"type": "message", "role": "user", "content": "hi"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
    ]


def test_the_api_is_one_of_two_and_the_test_server_answers_real_responses() -> None:
    with pytest.raises(ValueError, match="'chat' or 'responses'"):
        ChatModel("http://127.0.0.1:9/v1", "m", api="completions")  # type: ignore[arg-type]
    body = response_body({"model": "m"}, [reasoning(), message("hi")])
    assert body["object"] == "response" and body["output"][1]["content"][0]["text"] == "hi"


async def test_a_malformed_supervisor_reply_reaches_the_voice_model_as_a_model_error() -> None:
    async def broken(body: dict[str, Any]) -> StarletteResponse:
        return JSONResponse({"id": "resp_1", "object": "response", "output": {"text": "hi"}})

    rules = [Rule(when=offers("ask_supervisor"), then=CallTool("ask_supervisor", {"request": "x"}))]
    engines = scripted_engines(rules, vad=False)
    async with (
        responses_server(broken) as text,
        running_server(ServerConfig(port=0), engines) as voice,
    ):
        ask = delegate(_model(text.base_url), instructions="Supervise.", filler=None)
        junior: Agent[None] = Agent(name="Junior", instructions="Ask the supervisor.", tools=[ask])
        session = await runner_for(voice, junior).run()
        async with session:
            recorder = Recorder(session)
            await session.send_text("where is my order")
            (end,) = await recorder.count("tool_end", 1)
            (error,) = recorder.of("error")
        await recorder.stop()
    assert end.error.category is Category.MODEL and end.error.code == "supervisor_failed"
    assert error.error is end.error
    assert "'output' is dict, not a list" in json.loads(end.output)["error"]
