"""Conversation items -> what an LLM engine understands.

Engines never see protocol events or items: the session host flattens the
conversation into :class:`ChatMessage` turns. Audio turns become their
transcripts (the STT transcript when the client did not ask for one), a
function call becomes an assistant turn with a :class:`ToolCall`, and its
output a ``tool`` turn. A user turn's ``input_image`` parts travel as image
URLs (:attr:`ChatMessage.images`); whether the engine can take them is
checked before the request is sent (:mod:`.images`). Items the engines cannot
use (MCP) are skipped. :func:`history_turns` groups the items into the turns
that truncation leaves out whole (:mod:`.truncation`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ...engines.base import ChatMessage, ToolCall, ToolSpec
from ..mcp.history_view import as_function_items

# Looks up what the STT engine heard for an audio item (waiting if needed).
Heard = Callable[[str], Awaitable[str | None]]


async def chat_messages(items: Sequence[Mapping[str, Any]], heard: Heard) -> list[ChatMessage]:
    """The conversation (wire item dicts, in order) as engine chat turns."""
    messages: list[ChatMessage] = []
    for item in as_function_items(items):  # MCP calls read as function calls
        kind = item.get("type")
        if kind == "message":
            text = await _message_text(item, heard)
            images = message_images(item)
            role = item.get("role")
            if role in ("system", "user", "assistant") and (text or images):
                messages.append(ChatMessage(role=role, content=text, images=images))
        elif kind == "function_call":
            call = ToolCall(
                call_id=str(item.get("call_id") or item.get("id") or ""),
                name=str(item.get("name") or ""),
                arguments=str(item.get("arguments") or ""),
            )
            _add_tool_call(messages, call)
        elif kind == "function_call_output":
            messages.append(
                ChatMessage(
                    role="tool",
                    content=str(item.get("output") or ""),
                    tool_call_id=str(item.get("call_id") or ""),
                )
            )
    return messages


def history_turns(items: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Items grouped into turns: a message and the calls and outputs that follow it.

    Truncation leaves out whole turns, so a function call is never sent
    without its output (chat APIs refuse a ``tool`` turn with no call).
    """
    turns: list[list[Mapping[str, Any]]] = []
    for item in items:
        if item.get("type") == "message" or not turns:
            turns.append([item])
        else:
            turns[-1].append(item)
    return turns


def message_images(item: Mapping[str, Any]) -> tuple[str, ...]:
    """The image URLs of a message's ``input_image`` parts (data: URLs as sent)."""
    return tuple(
        str(part.get("image_url"))
        for part in item.get("content") or []
        if part.get("type") == "input_image" and part.get("image_url")
    )


def _add_tool_call(messages: list[ChatMessage], call: ToolCall) -> None:
    """Calls made in one turn share one assistant message, as chat APIs expect."""
    last = messages[-1] if messages else None
    if last is not None and last.role == "assistant" and last.tool_calls:
        messages[-1] = ChatMessage(
            role="assistant", content=last.content, tool_calls=(*last.tool_calls, call)
        )
    else:
        messages.append(ChatMessage(role="assistant", tool_calls=(call,)))


async def _message_text(item: Mapping[str, Any], heard: Heard) -> str:
    parts: list[str] = []
    for part in item.get("content") or []:
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append(str(part.get("text") or ""))
        elif kind in ("input_audio", "output_audio", "audio"):
            transcript = part.get("transcript")
            if kind == "input_audio":
                # The STT result wins over the item's transcript field: while
                # transcription streams, that field holds only the deltas sent
                # so far (an early partial), and the model must hear it all.
                final = await heard(str(item.get("id")))
                transcript = final if final is not None else transcript
            parts.append(str(transcript or ""))
    return " ".join(p for p in parts if p).strip()


def tool_specs(tools: Sequence[Mapping[str, Any]]) -> list[ToolSpec]:
    """Function tools of a session or response as engine tool specs."""
    specs = []
    for tool in tools:
        if tool.get("type", "function") != "function" or not tool.get("name"):
            continue
        parameters = tool.get("parameters")
        specs.append(
            ToolSpec(
                name=str(tool["name"]),
                description=str(tool.get("description") or ""),
                parameters=parameters if isinstance(parameters, Mapping) else {},
            )
        )
    return specs


def tool_choice(choice: Any) -> str:
    """``"auto"``/``"none"``/``"required"`` or the name of a forced function."""
    if isinstance(choice, Mapping):
        return str(choice.get("name") or "auto")
    return str(choice or "auto")
