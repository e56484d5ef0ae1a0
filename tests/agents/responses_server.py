"""A small Responses-API server on loopback, for the supervisor's ``api="responses"`` tests.

The rtagents server has no ``/v1/responses``, so the tests start this one: a
real HTTP server (starlette on uvicorn, port 0) whose model is a function of
the request. Every request is checked against the ``openai`` package's
``ResponseCreateParamsNonStreaming`` (unknown fields included: pydantic drops
those silently, so they are looked for by name), its ``input`` and ``tools``
against their own types; every answer the brain gives as output items is
wrapped in a full ``Response`` body and validated by ``openai``'s
``Response`` model before it goes out, so the client reads the real shape.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from openai.types.responses import Response, ResponseInputParam, ToolParam
from openai.types.responses.response_create_params import ResponseCreateParamsNonStreaming
from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

Brain = Callable[[dict[str, Any]], Awaitable[list[dict[str, Any]] | StarletteResponse]]
"""Request body -> output items (wrapped in a full Response), or an HTTP answer sent as is."""

API_KEY = "sk-test-responses"
_PARAMS = TypeAdapter(ResponseCreateParamsNonStreaming)
_INPUT = TypeAdapter(ResponseInputParam)
_TOOLS = TypeAdapter(list[ToolParam])
_KNOWN = set(ResponseCreateParamsNonStreaming.__annotations__)
_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):024x}"


def function_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """An output ``function_call`` item as OpenAI sends it."""
    return {
        "type": "function_call",
        "id": new_id("fc"),
        "call_id": new_id("call"),
        "name": name,
        "arguments": json.dumps(arguments),
        "status": "completed",
    }


def message(text: str) -> dict[str, Any]:
    """An output assistant ``message`` item with one ``output_text`` part."""
    return {
        "type": "message",
        "id": new_id("msg"),
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def reasoning() -> dict[str, Any]:
    """An output ``reasoning`` item (reasoning models put one before their calls)."""
    return {"type": "reasoning", "id": new_id("rs"), "summary": []}


def response_body(request: dict[str, Any], output: list[dict[str, Any]]) -> dict[str, Any]:
    """A completed ``Response`` carrying ``output``, validated by the openai package."""
    body = {
        "id": new_id("resp"),
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": None,
        "model": request["model"],
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": request.get("tools", []),
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 19,
        },
        "user": None,
        "metadata": {},
    }
    Response.model_validate(body)
    return body


def _error(status: int, message: str, code: str, param: str | None = None) -> JSONResponse:
    payload = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return JSONResponse({"error": payload}, status_code=status)


def _invalid(body: Any) -> str | None:
    """Why ``body`` is not a valid non-streaming ``responses.create`` body, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        return f"unknown parameters: {unknown}"
    try:
        _PARAMS.validate_python(body)
        if isinstance(body.get("input"), list):
            _INPUT.validate_python(body["input"])
        _TOOLS.validate_python(body.get("tools", []))
    except ValidationError as exc:
        return str(exc).splitlines()[0] + ": " + str(exc.errors()[0])
    return None


class ResponsesServer:
    """``POST /v1/responses`` answered by ``brain``; ``requests`` keeps every valid body."""

    def __init__(self, brain: Brain) -> None:
        self.brain = brain
        self.requests: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.base_url = ""
        self.app = Starlette(routes=[Route("/v1/responses", self._create, methods=["POST"])])

    async def _create(self, request: Request) -> StarletteResponse:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "The body is not valid JSON.", "invalid_json")
        why = _invalid(body)
        if why is not None:
            self.rejected.append(why)
            return _error(400, why, "invalid_request")
        self.requests.append(body)
        answer = await self.brain(body)
        if isinstance(answer, list):
            return JSONResponse(response_body(body, answer))
        return answer


@asynccontextmanager
async def responses_server(brain: Brain) -> AsyncIterator[ResponsesServer]:
    """Serve ``brain`` on 127.0.0.1 (a free port) for the duration of the block."""
    server = ResponsesServer(brain)
    config = uvicorn.Config(
        server.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    runner = uvicorn.Server(config)
    task = asyncio.create_task(runner.serve())
    try:
        async with asyncio.timeout(30):
            while not runner.started:
                if task.done():
                    task.result()  # surfaces why it could not start
                await asyncio.sleep(0.01)
        port = runner.servers[0].sockets[0].getsockname()[1]
        server.base_url = f"http://127.0.0.1:{port}/v1"
        yield server
    finally:
        runner.should_exit = True
        await task
