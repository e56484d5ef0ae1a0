"""What a session does with what it receives: delivery, handlers, errors, replays."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from scripted_peer import ScriptedPeer

from rtagents import connect
from rtagents.client import EventTimeout, Session
from rtagents.client.inbound import ERRORS_KEPT, UNKNOWN_TYPES_LOGGED
from rtagents.protocol.codec import InvalidEvent, UnknownEvent, decode_server_event
from rtagents.protocol.errors import (
    Category,
    LocalProtocolError,
    ModelError,
    Origin,
    RealtimeError,
    RemoteProtocolError,
)

RESPONSE = {"id": "resp_1", "object": "realtime.response", "status": "in_progress", "output": []}


async def _until(session: Session, event_type: str) -> list[Any]:
    seen = []
    async for event in session:
        seen.append(event)
        if event.type == event_type:
            return seen
    raise AssertionError(f"stream ended before {event_type}")


async def test_unknown_events_are_delivered_and_logged_once(
    peer: ScriptedPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rtagents")
    async with connect(peer.url, credentials="sk-test") as session:
        await peer.send({"type": "brand_new.thing", "x": 1}, {"type": "brand_new.thing", "x": 2})
        await peer.send({"type": "rate_limits.updated", "rate_limits": []})
        seen = await _until(session, "rate_limits.updated")
        unknown = [e for e in seen if isinstance(e, UnknownEvent)]
        assert [e.data["x"] for e in unknown] == [1, 2]
        assert session.state == "active"
    logged = [r for r in caplog.records if getattr(r, "outcome", None) == "unknown"]
    assert len(logged) == 1


async def test_invalid_events_are_delivered_with_their_error_and_still_applied(
    peer: ScriptedPeer,
) -> None:
    errors: list[RealtimeError] = []
    async with connect(peer.url, credentials="sk-test") as session:
        session.on_error(errors.append)
        await peer.send({"type": "response.created", "response": RESPONSE})
        await peer.send({"type": "response.done", "response": {**RESPONSE, "output": "oops"}})
        seen = await _until(session, "response.done")
        bad = seen[-1]
        assert isinstance(bad, InvalidEvent)
        assert bad.error.param is not None and bad.error.param.startswith("response.output")
        assert session.conversation.active_response_id is None  # the response still ended
        assert isinstance(session.errors[-1], RemoteProtocolError)
    assert errors and errors[0] is session.errors[-1]


async def test_server_errors_are_delivered_and_classified(peer: ScriptedPeer) -> None:
    classified: list[RealtimeError] = []
    async with connect(peer.url, credentials="sk-test") as session:
        session.on_error(classified.append)
        await peer.send(
            {
                "type": "error",
                "error": {
                    "type": "server_error",
                    "code": "engine_failure",
                    "message": "the model crashed",
                },
            },
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "invalid_value",
                    "message": "bad voice",
                    "param": "session.audio.output.voice",
                    "event_id": "evt_abc",
                },
            },
        )
        seen = await _until(session, "error")
        assert seen[-1].error.message == "the model crashed"
        await _until(session, "error")
    model_error, request_error = session.errors
    assert isinstance(model_error, ModelError) and model_error.category is Category.MODEL
    assert isinstance(request_error, LocalProtocolError)
    assert (request_error.param, request_error.event_id) == (
        "session.audio.output.voice",
        "evt_abc",
    )
    assert request_error.origin is Origin.LOCAL
    assert classified == session.errors


async def test_the_same_event_id_is_dispatched_once(peer: ScriptedPeer) -> None:
    calls: list[str] = []
    async with connect(peer.url, credentials="sk-test") as session:

        @session.on("input_audio_buffer.cleared")
        async def on_cleared(event: Any) -> None:
            calls.append(event.event_id)

        replay = {"type": "input_audio_buffer.cleared", "event_id": "event_same"}
        await peer.send(replay, replay, {"type": "input_audio_buffer.cleared", "event_id": "e2"})
        first = await _until(session, "input_audio_buffer.cleared")
        second = await _until(session, "input_audio_buffer.cleared")
        assert [e.event_id for e in first + second if e.type == "input_audio_buffer.cleared"] == [
            "event_same",
            "e2",
        ]
    assert calls == ["event_same", "e2"]


def _item_added(event_id: str, item_id: str, text: str) -> dict[str, Any]:
    item = {
        "id": item_id,
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }
    return {
        "type": "conversation.item.added",
        "event_id": event_id,
        "previous_item_id": None,
        "item": item,
    }


async def test_a_reused_event_id_on_other_content_is_delivered_and_reported_once(
    peer: ScriptedPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rtagents")
    added: list[str] = []
    reported: list[RealtimeError] = []
    first = _item_added("event_same", "item_a", "hello")
    other = _item_added("event_same", "item_b", "something else")
    async with connect(peer.url, credentials="sk-test") as session:
        session.on("conversation.item.added", lambda e: added.append(e.item.id))
        session.on_error(reported.append)
        # A replay of either frame is dropped; the other content is a collision.
        await peer.send(first, first, other, other, first)
        await peer.send({"type": "input_audio_buffer.cleared", "event_id": "e_end"})
        seen = await _until(session, "input_audio_buffer.cleared")
        assert [e.item.id for e in seen if e.type == "conversation.item.added"] == [
            "item_a",
            "item_b",
        ]
        assert {"item_a", "item_b"} <= set(session.conversation.item_ids)
        collisions = [e for e in session.errors if e.code == "duplicate_event_id"]
        assert len(collisions) == 1
        error = collisions[0]
        assert isinstance(error, RemoteProtocolError)
        assert (error.category, error.origin, error.event_id) == (
            Category.PROTOCOL,
            Origin.REMOTE,
            "event_same",
        )
        assert "event_same" in error.message and "server bug" in error.message
    assert added == ["item_a", "item_b"]
    assert [e.code for e in reported] == ["duplicate_event_id"]
    logged = [r for r in caplog.records if getattr(r, "outcome", None) == "duplicate_event_id"]
    assert len(logged) == 1


async def test_handlers_run_in_order_and_survive_failures(
    peer: ScriptedPeer, caplog: pytest.LogCaptureFixture
) -> None:
    order: list[str] = []

    def broken(event: Any) -> None:
        raise ValueError("handler bug")

    async def tool(event: Any) -> None:
        order.append("tool")
        raise RuntimeError("tool bug")

    async with connect(peer.url, credentials="sk-test") as session:
        session.on("response.function_call_arguments.done", broken)
        session.on("response.function_call_arguments.done", tool)
        session.on("*", lambda e: order.append(f"any:{e.type}"))
        session.on("input_audio_buffer.cleared", broken)
        session.on("input_audio_buffer.cleared", lambda e: order.append("sync"))
        done = asyncio.Event()
        session.on("input_audio_buffer.committed", lambda e: done.set())
        await peer.send(
            {
                "type": "response.function_call_arguments.done",
                "response_id": "r",
                "item_id": "i",
                "output_index": 0,
                "call_id": "c",
                "name": "f",
                "arguments": "{}",
            },
            {"type": "input_audio_buffer.cleared"},
            {"type": "input_audio_buffer.committed", "item_id": "item_1"},
        )
        await done.wait()
        assert session.state == "active"
        assert session.off("input_audio_buffer.cleared", broken)
        assert not session.off("input_audio_buffer.cleared", broken)
    assert order[:4] == [
        "tool",
        "any:response.function_call_arguments.done",
        "sync",
        "any:input_audio_buffer.cleared",
    ]
    failures = [r for r in caplog.records if getattr(r, "outcome", None) == "handler_failed"]
    assert [getattr(r, "category", None) for r in failures] == ["tool", "tool", None]
    assert all(getattr(r, "origin", None) == "local" for r in failures)


async def test_a_handler_can_await_the_session(peer: ScriptedPeer) -> None:
    results: list[Any] = []
    async with connect(peer.url, credentials="sk-test") as session:
        done = asyncio.Event()

        @session.on("input_audio_buffer.cleared")
        async def reconfigure(event: Any) -> None:
            results.append(await session.update_session({"type": "realtime", "instructions": "x"}))
            done.set()

        await peer.send({"type": "input_audio_buffer.cleared"})
        await done.wait()
    assert results and results[0].type == "session.updated"


async def test_update_session_raises_the_servers_error_for_that_event(peer: ScriptedPeer) -> None:
    def reject(event: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "cannot_update_voice",
                    "message": "voice cannot change",
                    "param": "session.audio.output.voice",
                    "event_id": event["event_id"],
                },
            }
        ]

    async with connect(peer.url, credentials="sk-test") as session:
        peer.replies["session.update"] = reject
        with pytest.raises(LocalProtocolError) as caught:
            await session.update_session(
                {"type": "realtime", "audio": {"output": {"voice": "ash"}}}
            )
        assert caught.value.code == "cannot_update_voice"
        assert caught.value.param == "session.audio.output.voice"
        peer.replies["session.update"] = lambda event: []
        with pytest.raises(EventTimeout) as timed_out:
            await session.update_session({"type": "realtime"}, timeout=0.05)
        assert isinstance(timed_out.value, TimeoutError)


async def test_wait_for_filters_and_times_out(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        waiter = asyncio.create_task(
            session.wait_for(
                ["conversation.item.deleted", "conversation.item.retrieved"],
                predicate=lambda e: e.item_id == "b",
                timeout=5,
            )
        )
        await asyncio.sleep(0)
        await peer.send(
            {"type": "conversation.item.deleted", "item_id": "a"},
            {"type": "conversation.item.deleted", "item_id": "b"},
        )
        assert (await waiter).item_id == "b"
        with pytest.raises(EventTimeout, match="'response.done'"):
            await session.wait_for("response.done", timeout=0.01)
        bad = asyncio.create_task(
            session.wait_for("conversation.item.deleted", predicate=lambda e: 1 / 0)
        )
        await asyncio.sleep(0)
        await peer.send({"type": "conversation.item.deleted", "item_id": "c"})
        with pytest.raises(ZeroDivisionError):
            await bad


async def test_unread_stream_drops_the_oldest_events(peer: ScriptedPeer) -> None:
    async with Session(peer.url, credentials="sk-test", stream_capacity=3) as session:
        last = asyncio.create_task(
            session.wait_for("conversation.item.deleted", predicate=lambda e: e.item_id == "i4")
        )
        await asyncio.sleep(0)
        await peer.send(
            *({"type": "conversation.item.deleted", "item_id": f"i{n}"} for n in range(5))
        )
        await last
        kept = [session._inbound.stream.get() for _ in range(3)]
        assert [(await e).item_id for e in kept] == ["i2", "i3", "i4"]


async def test_beta_event_names_are_mapped_to_ga(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        await peer.send(
            {
                "type": "response.text.delta",
                "response_id": "r",
                "item_id": "i",
                "output_index": 0,
                "content_index": 0,
                "delta": "hi",
            }
        )
        event = (await _until(session, "response.output_text.delta"))[-1]
        assert event.delta == "hi"


async def test_a_handler_cancelling_itself_does_not_stop_dispatch(peer: ScriptedPeer) -> None:
    after: list[str] = []

    async def cancels(event: Any) -> None:
        raise asyncio.CancelledError

    async with connect(peer.url, credentials="sk-test") as session:
        done = asyncio.Event()
        session.on("input_audio_buffer.cleared", cancels)
        session.on("input_audio_buffer.cleared", lambda e: after.append("same event"))
        session.on("input_audio_buffer.committed", lambda e: done.set())
        await peer.send(
            {"type": "input_audio_buffer.cleared"},
            {"type": "input_audio_buffer.committed", "item_id": "item_1"},
        )
        await done.wait()
    assert after == ["same event"]


async def test_a_malformed_error_event_is_still_classified(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        await peer.send({"type": "error", "error": {"message": "rate limited", "code": 7}})
        event = (await _until(session, "error"))[-1]
        assert isinstance(event, InvalidEvent)
    assert session.errors[-1].message == "rate limited"


async def test_a_malformed_session_updated_fails_the_update(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        peer.replies["session.update"] = lambda event: [
            {"type": "session.updated", "session": {"type": "realtime", "tools": "none"}}
        ]
        with pytest.raises(RemoteProtocolError) as caught:
            await session.update_session({"type": "realtime"})
        assert caught.value.param is not None and caught.value.param.startswith("session")


async def test_handlers_must_be_callable(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        with pytest.raises(TypeError, match="callable"):
            session.on("response.done", "not a function")  # type: ignore[call-overload]


def test_unknown_types_are_logged_once_each_up_to_a_bound(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rtagents")
    session = Session("ws://127.0.0.1:1/v1/realtime", credentials="k")
    for number in range(UNKNOWN_TYPES_LOGGED + 20):
        for _ in range(2):
            raw = json.dumps({"type": f"brand_new.{number}", "event_id": f"e{number}_{_}"})
            session._inbound.ingest(decode_server_event(raw), raw)
    logged = [r for r in caplog.records if getattr(r, "outcome", None) == "unknown"]
    assert len(logged) == len(session._inbound._unknown_logged) == UNKNOWN_TYPES_LOGGED


async def test_the_errors_kept_are_the_last_ones(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        for number in range(ERRORS_KEPT + 20):
            error = {"type": "server_error", "code": "engine_failure", "message": f"n{number}"}
            await peer.send({"type": "error", "error": error})
        await peer.send({"type": "input_audio_buffer.cleared", "event_id": "e_end"})
        await _until(session, "input_audio_buffer.cleared")
    assert len(session.errors) == ERRORS_KEPT
    assert session.errors[-1].message == f"n{ERRORS_KEPT + 19}"
