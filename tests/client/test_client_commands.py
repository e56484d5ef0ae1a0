"""The typed send helpers: what reaches the wire, and what never leaves the process."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from openai.types.realtime import InputAudioBufferClearEvent
from resilience_kit import TEXT, proxied, until
from scripted_peer import ScriptedPeer

from rtagents import connect
from rtagents.client import ReconnectPolicy, commands, realtime_url
from rtagents.protocol.errors import ConnectionFailure, LocalProtocolError
from rtagents.protocol.lifecycle import State


def _without_id(event: dict[str, Any]) -> dict[str, Any]:
    assert event.pop("event_id").startswith("evt_")
    return event


async def test_each_helper_sends_its_ga_event(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        await session.commit_audio()
        await session.clear_audio()
        await session.send_text("hello")
        await session.create_item(
            {"type": "function_call_output", "call_id": "c1", "output": "{}"},
            previous_item_id="root",
        )
        await session.retrieve_item("item_1")
        await session.truncate_item("item_2", 1500)
        await session.delete_item("item_3")
        await session.create_response()
        await session.create_response(
            instructions="Shout.", conversation="none", metadata={"k": "v"}
        )
        await session.cancel_response()
        await session.cancel_response("resp_9")
        await session.clear_output_audio()
        sent = [_without_id(await peer.next_event()) for _ in range(12)]
    assert sent == [
        {"type": "input_audio_buffer.commit"},
        {"type": "input_audio_buffer.clear"},
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello"}],
            },
        },
        {
            "type": "conversation.item.create",
            "previous_item_id": "root",
            "item": {"type": "function_call_output", "call_id": "c1", "output": "{}"},
        },
        {"type": "conversation.item.retrieve", "item_id": "item_1"},
        {
            "type": "conversation.item.truncate",
            "item_id": "item_2",
            "content_index": 0,
            "audio_end_ms": 1500,
        },
        {"type": "conversation.item.delete", "item_id": "item_3"},
        {"type": "response.create"},
        {
            "type": "response.create",
            "response": {"instructions": "Shout.", "conversation": "none", "metadata": {"k": "v"}},
        },
        {"type": "response.cancel"},
        {"type": "response.cancel", "response_id": "resp_9"},
        {"type": "output_audio_buffer.clear"},
    ]


async def test_generic_send_takes_models_and_dicts(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        generated = await session.send(InputAudioBufferClearEvent(type="input_audio_buffer.clear"))
        chosen = await session.send({"type": "input_audio_buffer.clear", "event_id": "evt_mine"})
        assert (await peer.next_event())["event_id"] == generated
        assert (await peer.next_event())["event_id"] == chosen == "evt_mine"


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (
            lambda s: s.create_item(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_txt", "text": "hi"}],
                }
            ),
            "item.content[0].type",
        ),
        (
            lambda s: s.update_session({"type": "realtime", "modalities": ["text"]}),
            "session.modalities",
        ),
        (lambda s: s.create_response(output_modalities=["video"]), "response.output_modalities[0]"),
        (lambda s: s.send({"type": "session.updated", "session": {}}), "type"),
        (lambda s: s.send({"type": "no.such.event"}), "type"),
        (lambda s: s.truncate_item("item_1", -5), "audio_end_ms"),
        (lambda s: s.delete_item(""), "item_id"),
        (lambda s: s.append_audio("not bytes"), "audio"),
        (lambda s: s.send_text(42), "item.content[0].text"),
    ],
)
async def test_invalid_events_raise_locally_and_send_nothing(
    peer: ScriptedPeer, call: Any, param: str
) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        with pytest.raises(LocalProtocolError) as caught:
            await call(session)
        assert caught.value.param == param
        assert param in str(caught.value)
        await session.clear_audio()
        assert (await peer.next_event())["type"] == "input_audio_buffer.clear"


async def test_send_rejects_what_is_not_an_event(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        with pytest.raises(LocalProtocolError, match="mapping"):
            await session.send(["input_audio_buffer.clear"])  # type: ignore[arg-type]


async def test_append_audio_splits_large_buffers(
    peer: ScriptedPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "MAX_APPEND_BYTES", 6)
    audio = bytes(range(20))
    async with connect(peer.url, credentials="sk-test") as session:
        ids = await session.append_audio(audio)
        chunks = [await peer.next_event("input_audio_buffer.append") for _ in ids]
        assert await session.append_audio(b"") == []
    assert len(ids) == 4 and [c["event_id"] for c in chunks] == ids
    assert b"".join(base64.b64decode(c["audio"]) for c in chunks) == audio


def test_max_append_stays_under_the_hosted_limit() -> None:
    assert commands.MAX_APPEND_BYTES % 6 == 0
    assert len(base64.b64encode(bytes(commands.MAX_APPEND_BYTES))) < 15 * 2**20


async def test_sending_before_open_is_a_connection_failure() -> None:
    session = connect("ws://127.0.0.1:9/v1/realtime", credentials="k").session
    with pytest.raises(ConnectionFailure, match="cannot send 'input_audio_buffer.commit'"):
        await session.commit_audio()


@pytest.mark.parametrize(
    ("url", "model", "expected"),
    [
        (
            "wss://api.openai.com/v1/realtime",
            "gpt-realtime",
            "wss://api.openai.com/v1/realtime?model=gpt-realtime",
        ),
        ("ws://127.0.0.1:8000/v1/realtime?model=a", "b", "ws://127.0.0.1:8000/v1/realtime?model=a"),
        (
            "https://api.openai.com/v1/realtime?call_id=rtc_1",
            None,
            "wss://api.openai.com/v1/realtime?call_id=rtc_1",
        ),
        ("http://localhost:8000/v1/realtime", "m", "ws://localhost:8000/v1/realtime?model=m"),
    ],
)
def test_realtime_url(url: str, model: str | None, expected: str) -> None:
    assert realtime_url(url, model) == expected


@pytest.mark.parametrize("url", ["ftp://x/v1/realtime", "localhost:8000", "ws://"])
def test_realtime_url_rejects_what_is_not_a_websocket_url(url: str) -> None:
    with pytest.raises(ConnectionFailure, match="not a Realtime URL") as caught:
        realtime_url(url)
    assert caught.value.code == "invalid_url"


async def test_an_outage_pauses_the_update_deadline_and_the_resumed_server_answers() -> None:
    """The server cannot answer while it is unreachable, so the ack deadline counts only
    time on a live connection: an update lost in an outage longer than the deadline is
    re-sent by the resume and answered there, instead of timing out while reconnecting."""
    slow = ReconnectPolicy(
        max_attempts=3, base_delay=0.6, max_delay=0.6, random=lambda: 1.0, rollover_margin=None
    )
    async with (
        proxied() as (server, proxy),
        connect(proxy.url(), credentials=server.api_key, session=TEXT, reconnect=slow) as session,
    ):
        resumed: list[Any] = []
        session.on("rtagents.resumed", resumed.append)
        first = await proxy.connection()
        first.stall(direction="up")  # the update never reaches this server session...
        update = asyncio.create_task(
            session.update_session({"type": "realtime", "instructions": "after"}, timeout=0.3)
        )
        up = first.pipes[0]
        await until(lambda: up.read_bytes > up.forwarded, "the update held by the proxy")
        first.cut()  # ...and is lost with the connection; the reconnect waits 0.6 s
        updated = await asyncio.wait_for(update, 10)
        assert updated.session.instructions == "after"
        assert len(proxy.connections) == 2 and session.state is State.ACTIVE
        await until(lambda: bool(resumed), "the resumed event")
        assert not resumed[0].rebuilt  # the same server session took the re-sent update
