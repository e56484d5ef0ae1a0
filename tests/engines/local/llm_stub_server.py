"""A real OpenAI-compatible chat-completions server on loopback, scripted per test.

It stands in for Ollama / llama.cpp / vLLM: a Starlette app under uvicorn on
port 0 that streams SSE exactly as they do (``data: {chunk}`` lines, an
optional usage chunk, ``data: [DONE]``). Each request pops the next scripted
:data:`Reply`; with none left it echoes the last user message. Requests are
recorded so tests can check what the engine sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import deque
from collections.abc import AsyncIterator, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "stub-model"


@dataclass(frozen=True)
class Text:
    """Stream ``pieces`` as content deltas, ``delay_s`` apart; then usage."""

    pieces: Sequence[str]
    delay_s: float = 0.0
    usage: tuple[int, int] | None = (11, 3)


@dataclass(frozen=True)
class ToolCall:
    """Stream one function call, its arguments split into ``pieces``."""

    name: str
    pieces: Sequence[str]
    call_id: str = "call_stub_1"


@dataclass(frozen=True)
class Status:
    """Answer with an HTTP error and an OpenAI-style error body."""

    code: int
    message: str


@dataclass(frozen=True)
class Stall:
    """Send the headers and a keep-alive comment, then nothing for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Raw:
    """Send these SSE ``data:`` payloads verbatim (malformed streams)."""

    payloads: Sequence[str]


@dataclass(frozen=True)
class Endless:
    """Stream tokens until the client goes away (cancellation tests)."""

    delay_s: float = 0.01


Reply: TypeAlias = Text | ToolCall | Status | Stall | Raw | Endless


@dataclass
class LLMStub:
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    api_key: str | None = None
    streams_open: int = 0
    stream_closed: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event | None = None  # if given, requests wait for it (a model still loading)
    url: str = ""

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
            ]
        )

    async def _chat(self, request: Request) -> Response:
        self.headers.append(dict(request.headers))
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Invalid API Key")
        body = await request.json()
        self.requests.append(body)
        if self.gate is not None:
            await self.gate.wait()
        if body.get("model") != MODEL:
            return _error(404, f"model '{body.get('model')}' not found, try pulling it first")
        reply = self.replies.popleft() if self.replies else _echo(body)
        if isinstance(reply, Status):
            return _error(reply.code, reply.message)
        return StreamingResponse(self._guarded(reply), media_type="text/event-stream")

    async def _guarded(self, reply: Reply) -> AsyncIterator[str]:
        """Counts open streams so tests see when the client hung up."""
        self.streams_open += 1
        try:
            async for line in _events(reply):
                yield line
        finally:
            self.streams_open -= 1
            self.stream_closed.set()


def _echo(body: dict[str, Any]) -> Text:
    users = [m for m in body["messages"] if m.get("role") == "user"]
    said = str(users[-1]["content"]) if users else "nothing"
    return Text(["You said: ", said])


def _error(code: int, message: str) -> Response:
    return JSONResponse({"error": {"message": message, "type": "stub_error", "code": code}}, code)


def _chunk(delta: dict[str, Any] | None, *, finish: str | None = None, **extra: Any) -> str:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    payload = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "model": MODEL}
    return f"data: {json.dumps({**payload, 'choices': choices, **extra})}\n\n"


async def _events(reply: Reply) -> AsyncIterator[str]:
    if isinstance(reply, Stall):
        yield ": keep-alive\n\n"
        await asyncio.sleep(reply.seconds)
    elif isinstance(reply, Raw):
        for payload in reply.payloads:
            yield f"data: {payload}\n\n"
    elif isinstance(reply, Endless):
        while True:
            yield _chunk({"content": "la "})
            await asyncio.sleep(reply.delay_s)
    elif isinstance(reply, ToolCall):
        yield _chunk({"role": "assistant", "content": None})
        first = {"index": 0, "id": reply.call_id, "type": "function"}
        yield _chunk({"tool_calls": [{**first, "function": {"name": reply.name, "arguments": ""}}]})
        for piece in reply.pieces:
            yield _chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        yield _chunk({}, finish="tool_calls")
        yield _chunk(None, usage={"prompt_tokens": 20, "completion_tokens": 7})
    elif isinstance(reply, Text):
        for piece in reply.pieces:
            yield _chunk({"content": piece})
            await asyncio.sleep(reply.delay_s)
        yield _chunk({}, finish="stop")
        if reply.usage is not None:
            prompt, completion = reply.usage
            usage = {"prompt_tokens": prompt, "completion_tokens": completion}
            yield _chunk(None, usage=usage)
    yield "data: [DONE]\n\n"


class _QuietServer(uvicorn.Server):
    """uvicorn in the test's loop, without touching the process's signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def running_stub(stub: LLMStub | None = None, *, port: int = 0) -> AsyncIterator[LLMStub]:
    """Serve ``stub`` on 127.0.0.1 (``port``, or a free one) until the block exits."""
    stub = stub or LLMStub()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart on the same port
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        stub.app(), lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=1
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "the stub LLM server did not start"
            await asyncio.sleep(0.005)
        stub.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield stub
    finally:
        server.should_exit = True
        await task
        sock.close()
