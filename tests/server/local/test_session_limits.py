"""A live session's limits (ServerConfig.limits): each breach is a specific error; it goes on."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from server_harness import RawClient, memory_session, mint

from rtagents.protocol.errors import RemoteProtocolError
from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import MIB, Limits
from rtagents.server.local.session_config import default_config, validated
from rtagents.server.serving import running_server

SECOND = 48_000  # bytes of one second of pcm16 at 24 kHz


@asynccontextmanager
async def limited(**limits: Any) -> AsyncIterator[RawClient]:
    """A session on a server whose limits table sets ``limits``."""
    async with running_server(ServerConfig(port=0, limits=Limits(**limits))) as server:
        async with memory_session(server) as client:
            yield client


def _append(size: int, event_id: str = "evt_append") -> dict[str, Any]:
    audio = base64.b64encode(bytes(size)).decode()
    return {"type": "input_audio_buffer.append", "event_id": event_id, "audio": audio}


def _item(text: str, event_id: str = "evt_item") -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    return {"type": "conversation.item.create", "event_id": event_id, "item": item}


async def test_the_input_buffer_holds_15_mib_by_default() -> None:
    async with limited() as client:
        await client.send(_append(15 * MIB))  # exactly the hosted limit
        error = await client.error(_append(SECOND, "evt_over"))
        assert (error.code, error.param, error.event_id) == (
            "input_audio_buffer_full",
            "audio",
            "evt_over",
        )
        assert "limit input_buffer_bytes" in error.message and "commit" in error.message
        # The buffer was kept: a commit turns all 15 MiB into one item.
        await client.roundtrip(
            {"type": "input_audio_buffer.commit"}, "input_audio_buffer.committed"
        )


async def test_a_configured_input_buffer_limit_refuses_and_the_session_goes_on() -> None:
    async with limited(input_buffer_bytes=SECOND) as client:
        await client.send(_append(SECOND))
        error = await client.error(_append(2, "evt_two"))
        assert (error.code, error.event_id) == ("input_audio_buffer_full", "evt_two")
        await client.roundtrip({"type": "input_audio_buffer.clear"}, "input_audio_buffer.cleared")
        await client.send(_append(SECOND))  # room again
        await client.roundtrip(
            {"type": "input_audio_buffer.commit"}, "input_audio_buffer.committed"
        )


async def test_instructions_and_tools_are_bounded_in_updates_and_responses() -> None:
    tool = {"type": "function", "name": "lookup", "description": "d" * 50}
    async with limited(instructions_bytes=100, tools_count=1, tools_bytes=120) as client:
        long = {"type": "session.update", "event_id": "evt_long", "session": {
            "type": "realtime", "instructions": "x" * 101}}  # fmt: skip
        error = await client.error(long)
        assert (error.code, error.param, error.event_id) == (
            "instructions_too_large",
            "session.instructions",
            "evt_long",
        )
        two = {"type": "session.update", "session": {"type": "realtime", "tools": [tool, tool]}}
        error = await client.error(two)
        assert (error.code, error.param) == ("too_many_tools", "session.tools")
        wide = {**tool, "description": "d" * 200}
        response = {"type": "response.create", "response": {"tools": [wide]}}
        error = await client.error(response)
        assert (error.code, error.param) == ("tools_too_large", "response.tools")
        just = {"type": "session.update", "session": {"type": "realtime", "tools": [tool]}}
        updated = await client.roundtrip(just, "session.updated")
        assert [t.name for t in updated.session.tools] == ["lookup"]


async def test_a_full_conversation_refuses_items_and_fails_responses() -> None:
    async with limited(conversation_items=2) as client:
        first = await client.user_text("one")
        await client.user_text("two")
        error = await client.error(_item("three", "evt_three"))
        assert (error.code, error.param, error.event_id) == (
            "conversation_full",
            "item",
            "evt_three",
        )
        assert "limit conversation_items" in error.message
        # A response would add an item: it fails, naming the limit.
        events = await client.respond()
        done = next(e for e in events if e.type == "response.done")
        assert done.response.status == "failed"
        assert done.response.status_details.error.code == "conversation_full"
        assert any(e.type == "error" and e.error.code == "conversation_full" for e in events)
        # Out of band, nothing joins the conversation: it may run.
        events = await client.respond({"conversation": "none"})
        assert next(e for e in events if e.type == "response.done").response.status == "completed"
        # Deleting an item makes room.
        await client.roundtrip(
            {"type": "conversation.item.delete", "item_id": first}, "conversation.item.deleted"
        )
        await client.user_text("three")


async def test_the_memory_budget_counts_items_and_audio() -> None:
    async with limited(session_memory_bytes=1000) as client:
        first = await client.user_text("a" * 600)
        error = await client.error(_item("b" * 600, "evt_b"))
        assert (error.code, error.param, error.event_id) == (
            "session_memory_exceeded",
            "item",
            "evt_b",
        )
        assert "600 bytes" in error.message and "limit session_memory_bytes" in error.message
        error = await client.error(_append(500, "evt_audio"))
        assert (error.code, error.param) == ("session_memory_exceeded", "audio")
        await client.roundtrip(
            {"type": "conversation.item.delete", "item_id": first}, "conversation.item.deleted"
        )
        await client.user_text("b" * 600)  # room again once the first item is gone


def test_a_whole_config_is_checked_against_the_default_limits_unless_given() -> None:
    data = default_config("realtime", "gpt-realtime") | {"instructions": "x" * (300 * 1024)}
    with pytest.raises(RemoteProtocolError) as refused:
        validated(data, vad_available=True)
    assert (refused.value.code, refused.value.param) == (
        "instructions_too_large",
        "session.instructions",
    )
    roomy = Limits(instructions_bytes=MIB)
    assert validated(data, vad_available=True, limits=roomy).instructions == data["instructions"]


async def test_a_client_secret_with_oversized_instructions_is_refused_at_mint() -> None:
    session = {"type": "realtime", "instructions": "x" * (300 * 1024)}
    async with running_server(ServerConfig(port=0)) as server:
        reply = await mint(server, {"session": session})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert (error["code"], error["param"]) == ("instructions_too_large", "session.instructions")


async def test_a_too_deep_event_is_refused_with_its_event_id_and_the_session_goes_on() -> None:
    deep = "[" * 300 + "]" * 300
    async with limited() as client:
        await client.ws.send(
            '{"event_id": "evt_deep", "type": "session.update", "session": ' + deep + "}"
        )
        reply = await client.recv()
        assert reply.type == "error"
        assert (reply.error.code, reply.error.event_id) == ("json_too_deep", "evt_deep")
        await client.roundtrip({"type": "input_audio_buffer.clear"}, "input_audio_buffer.cleared")


async def test_a_detected_turn_in_a_full_conversation_is_dropped_with_an_error() -> None:
    from vad_harness import Streamer, configure, speech

    async with limited(conversation_items=1) as client:
        await client.user_text("one")
        await configure(client, {"type": "server_vad"}, output_modalities=["text"])
        stream = Streamer(client)
        await stream.send(speech("Hello there.", lead_ms=300, tail_ms=600), chunk_ms=[100])
        await stream.quiet_until("error")
        error = stream.first("error").event.error
        assert (error.code, error.param) == ("conversation_full", None)
        assert "limit conversation_items" in error.message
        # No item, no transcription, no response for a turn that had no room.
        seen = stream.types()
        assert "input_audio_buffer.speech_stopped" in seen
        for absent in (
            "input_audio_buffer.committed",
            "conversation.item.added",
            "response.created",
        ):
            assert absent not in seen, seen
        # The session goes on.
        await client.roundtrip({"type": "input_audio_buffer.clear"}, "input_audio_buffer.cleared")
