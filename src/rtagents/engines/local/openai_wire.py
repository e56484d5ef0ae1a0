"""The OpenAI chat-completions wire shape, without any I/O.

Building the request body and turning server-sent events into
:class:`~rtagents.engines.base.LLMChunk`\\ s are pure functions here, so the
HTTP client in :mod:`.openai_compat` stays about connections, timeouts and
failures. The shape is the common subset that Ollama, the llama.cpp server,
vLLM and OpenAI all accept.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...protocol.json_depth import parse_untrusted
from ..base import ChatMessage, LLMChunk, LLMRequest, TextDelta, ToolCallDelta, ToolSpec, Usage

_EMPTY_SCHEMA: Mapping[str, Any] = {"type": "object", "properties": {}}


class MalformedStream(ValueError):
    """The server sent something that is not an OpenAI chat-completion chunk."""


class StreamErrorEvent(Exception):
    """The server reported an error inside the stream (``{"error": ...}``)."""


def request_body(
    request: LLMRequest,
    *,
    model: str,
    include_usage: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of a streaming ``/v1/chat/completions`` call for ``request``."""
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    messages.extend(_message(m) for m in request.messages)
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    if request.tools:
        body["tools"] = [_tool(spec) for spec in request.tools]
        body["tool_choice"] = _tool_choice(request.tool_choice)
    body.update(extra or {})
    return body


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message.content,
        }
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            # OpenAI wants null, not "", next to tool calls.
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments or "{}"},
                }
                for call in message.tool_calls
            ],
        }
    if message.images:
        # OpenAI's multimodal shape: text and image_url parts in one user turn.
        parts: list[dict[str, Any]] = []
        if message.content:
            parts.append({"type": "text", "text": message.content})
        parts.extend({"type": "image_url", "image_url": {"url": url}} for url in message.images)
        return {"role": message.role, "content": parts}
    return {"role": message.role, "content": message.content}


def _tool(spec: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {
        "name": spec.name,
        # Some servers (Ollama, vLLM) reject a function without a parameters schema.
        "parameters": dict(spec.parameters) if spec.parameters else dict(_EMPTY_SCHEMA),
    }
    if spec.description:
        function["description"] = spec.description
    return {"type": "function", "function": function}


def _tool_choice(choice: str) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


@dataclass
class SSEDecoder:
    """Server-sent events, line by line: yields each event's ``data`` when it ends.

    Comment lines (``: ping``) and other fields (``event:``, ``id:``) are
    skipped; several ``data:`` lines of one event are joined with newlines, as
    the SSE spec says.
    """

    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> Iterator[str]:
        if not line:
            yield from self.flush()
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)

    def flush(self) -> Iterator[str]:
        if self._data:
            data, self._data = "\n".join(self._data), []
            yield data


@dataclass
class _Call:
    call_id: str
    name: str = ""
    pending: str = ""  # arguments that arrived before the name
    announced: bool = False


@dataclass
class ChunkMapper:
    """Turns chat-completion chunks into engine chunks.

    Tool calls stream as partial deltas keyed by ``index``: the id and name
    come in the first delta of a call, argument fragments in later ones.
    The mapper remembers each index's call so every :class:`ToolCallDelta`
    carries the call's id and name, as the engine seam promises.
    """

    _calls: dict[int, _Call] = field(default_factory=dict)

    def map(self, data: str) -> Iterator[LLMChunk]:
        try:
            chunk = parse_untrusted(data)
        except ValueError as exc:
            raise MalformedStream(f"not JSON ({exc}): {data[:120]!r}") from None
        if not isinstance(chunk, dict):
            raise MalformedStream(f"expected a JSON object, got {data[:120]!r}")
        if chunk.get("error"):
            raise StreamErrorEvent(_error_text(chunk["error"]))
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise MalformedStream(f"'choices' is not a list: {data[:120]!r}")
        for choice in choices[:1]:  # n=1: only the first choice exists
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                yield from self._delta(delta)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            try:
                details = usage.get("prompt_tokens_details")
                cached = details.get("cached_tokens") if isinstance(details, dict) else None
                counts = Usage(
                    input_tokens=int(usage.get("prompt_tokens") or 0),
                    output_tokens=int(usage.get("completion_tokens") or 0),
                    cached_tokens=int(cached or 0),
                )
            except (TypeError, ValueError):  # else a bare ValueError would escape the engine
                raise MalformedStream(f"token counts are not integers: {usage!r}") from None
            yield counts

    def _delta(self, delta: Mapping[str, Any]) -> Iterator[LLMChunk]:
        content = delta.get("content")
        if isinstance(content, str) and content:
            yield TextDelta(content)
        for part in delta.get("tool_calls") or []:
            if not isinstance(part, dict):
                raise MalformedStream(f"a tool_calls entry is not an object: {part!r}")
            yield from self._tool_part(part)

    def _tool_part(self, part: Mapping[str, Any]) -> Iterator[ToolCallDelta]:
        index = part.get("index", len(self._calls))
        if not isinstance(index, int):
            raise MalformedStream(f"a tool call's index is not an integer: {index!r}")
        call = self._calls.get(index)
        if call is None:
            call_id = part.get("id") or f"call_{secrets.token_hex(8)}"
            call = self._calls[index] = _Call(call_id=str(call_id))
        function = part.get("function") or {}
        if not isinstance(function, dict):
            raise MalformedStream(f"a tool call's function is not an object: {function!r}")
        call.name = call.name or str(function.get("name") or "")
        arguments = str(function.get("arguments") or "")
        if not call.name:
            call.pending += arguments  # wait for the name before announcing the call
            return
        if not call.announced or arguments or call.pending:
            call.announced = True
            arguments, call.pending = call.pending + arguments, ""
            yield ToolCallDelta(call_id=call.call_id, name=call.name, arguments_delta=arguments)


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def error_message(body: bytes) -> str:
    """The ``error.message`` of an HTTP error body, or the start of the body."""
    try:
        parsed = parse_untrusted(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    if isinstance(parsed, dict) and "error" in parsed:
        return _error_text(parsed["error"])
    return body[:200].decode("utf-8", "replace").strip()
