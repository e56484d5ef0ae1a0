"""The input audio store and the conversation -> engine translation, on their own."""

from __future__ import annotations

import asyncio

import pytest

from rtagents.engines.base import ChatMessage, ToolCall, ToolSpec
from rtagents.server.local import input_audio
from rtagents.server.local.history import chat_messages, tool_choice, tool_specs
from rtagents.server.local.input_audio import KEPT_AUDIO_BYTES, InputAudio


async def _heard_nothing(item_id: str) -> str | None:
    return None


def test_kept_audio_lets_the_oldest_go() -> None:
    store = InputAudio()
    half = b"\x00" * (KEPT_AUDIO_BYTES // 2)
    store.keep("a", half)
    store.keep("b", half)
    store.keep("c", b"\x00\x00")
    assert store.audio("a") is None
    assert store.audio("b") == half and store.audio("c") == b"\x00\x00"
    store.forget("b")
    assert store.audio("b") is None


async def test_heard_waits_for_the_transcription_and_survives_its_cancellation() -> None:
    store = InputAudio()
    store.transcripts["done"] = asyncio.create_task(asyncio.sleep(0, result="hello"))
    assert await store.heard("done") == "hello"
    store.transcripts["gone"] = asyncio.create_task(asyncio.sleep(10, result="never"))
    store.forget("gone")
    assert await store.heard("gone") is None
    assert await store.heard("unknown") is None


async def test_chat_messages_flatten_items() -> None:
    items = [
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "rules"}]},
        {"id": "u1", "type": "message", "role": "user", "content": [{"type": "input_audio"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": "said"}],
        },
        {"type": "mcp_list_tools", "server_label": "x", "tools": []},
    ]

    async def heard(item_id: str) -> str | None:
        return "spoken words" if item_id == "u1" else None

    messages = await chat_messages(items, heard)
    assert messages == [
        ChatMessage(role="system", content="rules"),
        ChatMessage(role="user", content="spoken words"),
        ChatMessage(
            role="assistant",
            tool_calls=(
                ToolCall(call_id="c1", name="f", arguments="{}"),
                ToolCall(call_id="c2", name="g", arguments="{}"),
            ),
        ),
        ChatMessage(role="tool", content="one", tool_call_id="c1"),
        ChatMessage(role="assistant", content="said"),
    ]


async def test_the_final_stt_transcript_wins_over_a_partial_one_on_the_item() -> None:
    """Transcription deltas fill the item's transcript as they stream; the model gets it all."""
    partial = {"type": "input_audio", "transcript": "Please book a "}
    items = [{"id": "u", "type": "message", "role": "user", "content": [partial]}]

    async def heard(item_id: str) -> str | None:
        return "Please book a table for two."

    messages = await chat_messages(items, heard)
    assert messages == [ChatMessage(role="user", content="Please book a table for two.")]
    # With no STT result (client-made item, or a failed transcription) the field is used.
    assert await chat_messages(items, _heard_nothing) == [
        ChatMessage(role="user", content="Please book a")
    ]


async def test_unheard_audio_turns_are_left_out() -> None:
    items = [{"id": "u", "type": "message", "role": "user", "content": [{"type": "input_audio"}]}]
    assert await chat_messages(items, _heard_nothing) == []


def test_tools_and_tool_choice() -> None:
    tools = [
        {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}},
        {"type": "mcp", "server_label": "x"},
    ]
    assert tool_specs(tools) == [ToolSpec(name="f", description="d", parameters={"type": "object"})]
    assert tool_choice({"type": "function", "name": "f"}) == "f"
    assert tool_choice("required") == "required"
    assert tool_choice(None) == "auto"


def test_keeping_an_item_again_counts_its_audio_once() -> None:
    store = InputAudio()
    for _ in range(3):
        store.keep("a", b"\x00" * 100)
    assert store._kept_bytes == 100


def test_the_buffer_refuses_audio_past_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(input_audio, "MAX_BUFFER_BYTES", 10)
    store = InputAudio()
    assert store.append(b"\x00" * 8)
    assert not store.append(b"\x00" * 4)
    assert store.buffered_bytes == 8
