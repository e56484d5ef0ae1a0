"""``POST /v1/chat/completions``: the server's LLM engine behind OpenAI's Chat Completions API.

So that a text model is reachable offline (a supervisor agent delegating to
it, any Chat Completions client), the same engine that answers Realtime
sessions, scenario rules included, answers here, streaming (SSE chunks, then
``[DONE]``) or not. Only the server API key is accepted: an ``ek_`` client
secret is minted for one browser's Realtime session and must not become a
general-purpose text model key (docs/server.md, "Chat Completions").
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..engines.base import (
    EngineFailure,
    LLMChunk,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
    Usage,
    close_stream,
)
from ..protocol.codec import encode_event
from ..protocol.errors import RealtimeError
from .auth import Refusal, bearer_credential
from .chat_request import ChatRequest, llm_request, parse_chat_request
from .state import ServerState
from .stores.client_secrets import looks_like_secret


async def chat_completions(request: Request) -> Response:
    state: ServerState = request.app.state.rtagents
    try:
        await _authorise(request, state)
        raw = await _bounded_body(request, state.config.chat_max_request_bytes)
        parsed = parse_chat_request(raw)
    except Refusal as exc:
        return exc.response()
    except RealtimeError as exc:
        return Refusal(400, exc.code, exc.message, exc.param).response()
    limit = state.config.chat_max_concurrent
    if state.chat_in_flight >= limit:
        message = f"{limit} chat completions are already generating; retry shortly."
        return Refusal(429, "rate_limit_exceeded", message).response()
    reply = _Reply(model=parsed.model)
    engine_request = llm_request(parsed)
    # The slot is taken now, before anything is awaited, so concurrent
    # requests cannot all pass the check above; it is freed however the
    # reply ends (a streamed one included, hung up before its first byte).
    state.chat_in_flight += 1
    release = _Release(state)
    if parsed.stream:
        return _SlotStreamingResponse(
            _sse(state, engine_request, parsed, reply),
            release,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )
    try:
        async for chunk in _engine_chunks(state, engine_request):
            reply.add(chunk)
    except EngineFailure as exc:
        return _engine_refusal(exc).response()
    finally:
        release()
    return Response(encode_event(reply.completion()), media_type="application/json")


class _Release:
    """Frees one generation slot, once, whoever calls it first."""

    def __init__(self, state: ServerState) -> None:
        self._state: ServerState | None = state

    def __call__(self) -> None:
        if self._state is not None:
            self._state.chat_in_flight -= 1
            self._state = None


class _SlotStreamingResponse(StreamingResponse):
    """A streamed reply that frees its slot when sending ends, however it ends."""

    def __init__(self, content: AsyncIterator[str], release: _Release, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def _authorise(request: Request, state: ServerState) -> None:
    credential = bearer_credential(request.headers)
    if credential is not None and looks_like_secret(credential.value):
        raise Refusal(
            403,
            "insufficient_permissions",
            "A client secret (ek_...) opens one Realtime session only; call "
            "/v1/chat/completions with the server API key, from your backend.",
        )
    await state.authenticator.authenticate(credential, allow_secret=False)


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 once it grows past ``limit`` (never read whole first)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refusal(
                413,
                "request_too_large",
                f"The request body is over {limit // 1024} KiB (this server's "
                "chat_max_request_bytes). Send fewer or shorter messages.",
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _engine_chunks(state: ServerState, request: LLMRequest) -> AsyncIterator[LLMChunk]:
    """The engine's stream, closed at once when the caller stops early (a client hang-up)."""
    stream = state.engines.llm.stream(request)
    try:
        async for chunk in stream:
            yield chunk
    finally:
        await close_stream(stream)


def _engine_refusal(exc: EngineFailure) -> Refusal:
    hint = f" {exc.hint}" if exc.hint else ""
    refusal = Refusal(502, "model_error", f"The LLM engine failed: {exc}.{hint}")
    return refusal


async def _sse(
    state: ServerState, request: LLMRequest, parsed: ChatRequest, reply: _Reply
) -> AsyncIterator[str]:
    """``data:`` lines: role, content / tool-call deltas, the finish, usage if asked, [DONE]."""
    yield _data(reply.chunk({"role": "assistant", "content": ""}))
    try:
        async for chunk in _engine_chunks(state, request):
            delta = reply.add(chunk)
            if delta is not None:
                yield _data(reply.chunk(delta))
    except EngineFailure as exc:
        # Mid-stream the status is already 200: the error travels as an event
        # (as OpenAI's own streams do), and no [DONE] follows.
        body = _engine_refusal(exc).body()
        body["error"]["type"] = "server_error"
        yield f"data: {encode_event(body)}\n\n"
        return
    yield _data(reply.chunk({}, finish_reason=reply.finish_reason))
    if parsed.include_usage:
        yield _data(reply.usage_chunk())
    yield "data: [DONE]\n\n"


def _data(chunk: ChatCompletionChunk) -> str:
    return f"data: {encode_event(chunk)}\n\n"


@dataclass
class _Reply:
    """What the engine has produced so far, and its wire shapes (built with ``openai``'s models)."""

    model: str
    id: str = field(default_factory=lambda: "chatcmpl-" + secrets.token_hex(12))
    created: int = field(default_factory=lambda: int(time.time()))
    text: list[str] = field(default_factory=list)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)  # call_id -> call, in order
    usage: Usage = field(default_factory=lambda: Usage(input_tokens=0, output_tokens=0))

    def add(self, chunk: LLMChunk) -> dict[str, Any] | None:
        """Record ``chunk``; return its streaming delta (None for usage)."""
        if isinstance(chunk, Usage):
            self.usage = chunk
            return None
        if isinstance(chunk, TextDelta):
            self.text.append(chunk.text)
            return {"content": chunk.text}
        return {"tool_calls": [self._add_call(chunk)]}

    def _add_call(self, chunk: ToolCallDelta) -> dict[str, Any]:
        call = self.calls.get(chunk.call_id)
        if call is not None:
            call["function"]["arguments"] += chunk.arguments_delta
            index = list(self.calls).index(chunk.call_id)
            return {"index": index, "function": {"arguments": chunk.arguments_delta}}
        index = len(self.calls)
        self.calls[chunk.call_id] = {
            "id": chunk.call_id,
            "type": "function",
            "function": {"name": chunk.name, "arguments": chunk.arguments_delta},
        }
        return {"index": index, **self.calls[chunk.call_id]}

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.calls else "stop"

    def _usage(self) -> dict[str, int]:
        used = self.usage
        return {
            "prompt_tokens": used.input_tokens,
            "completion_tokens": used.output_tokens,
            "total_tokens": used.input_tokens + used.output_tokens,
        }

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> ChatCompletionChunk:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return ChatCompletionChunk.model_validate(
            {**self._head("chat.completion.chunk"), "choices": [choice]}
        )

    def usage_chunk(self) -> ChatCompletionChunk:
        return ChatCompletionChunk.model_validate(
            {**self._head("chat.completion.chunk"), "choices": [], "usage": self._usage()}
        )

    def completion(self) -> ChatCompletion:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.text) or None}
        if self.calls:
            message["tool_calls"] = list(self.calls.values())
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": self.finish_reason,
            "logprobs": None,
        }
        return ChatCompletion.model_validate(
            {**self._head("chat.completion"), "choices": [choice], "usage": self._usage()}
        )
