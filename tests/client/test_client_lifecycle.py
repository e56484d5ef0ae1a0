"""Opening and closing a client session against a scripted peer on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scripted_peer import ScriptedPeer

from rtagents import connect
from rtagents.client import EventTimeout, LifecycleEvent, Session
from rtagents.protocol.errors import ConnectionFailure, LocalProtocolError, Origin
from rtagents.protocol.lifecycle import State, Trigger

MAIN_PATH = [
    (State.IDLE, State.AUTHENTICATING),
    (State.AUTHENTICATING, State.CONNECTING),
    (State.CONNECTING, State.CONFIGURING),
    (State.CONFIGURING, State.ACTIVE),
]


def _moves(session: Session) -> list[tuple[State, State]]:
    return [(t.source, t.target) for t in session.lifecycle.history]


async def _drain(session: Session) -> list[Any]:
    return [event async for event in session]


async def test_connect_walks_the_lifecycle_and_streams_it(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test", model="gpt-realtime") as session:
        assert session.state is State.ACTIVE
        assert session.session_id == "sess_test"
        assert peer.headers["Authorization"] == "Bearer sk-test"
        assert peer.connection is not None and peer.connection.request is not None
        assert peer.connection.request.path == "/v1/realtime?model=gpt-realtime"
    assert _moves(session) == [
        *MAIN_PATH,
        (State.ACTIVE, State.CLOSING),
        (State.CLOSING, State.CLOSED),
    ]
    assert session.close_code == 1000
    events = await _drain(session)
    kinds = [e.type if e.type != "rtagents.lifecycle" else e.target for e in events]
    assert kinds == [
        State.AUTHENTICATING,
        State.CONNECTING,
        State.CONFIGURING,
        "session.created",
        State.ACTIVE,
        State.CLOSING,
        State.CLOSED,
    ]
    assert all(isinstance(e, LifecycleEvent) for e in events if e.type == "rtagents.lifecycle")


async def test_await_form_and_lifecycle_handlers(peer: ScriptedPeer) -> None:
    session = await connect(peer.url, credentials="sk-test")
    seen: list[tuple[State, Trigger]] = []
    session.on("rtagents.lifecycle", lambda e: seen.append((e.target, e.trigger)))
    await session.close()
    assert seen == [
        (State.CLOSING, Trigger.CLOSE_REQUESTED),
        (State.CLOSED, Trigger.TRANSPORT_CLOSED),
    ]


async def test_initial_config_is_acknowledged_before_the_block(peer: ScriptedPeer) -> None:
    config = {"type": "realtime", "instructions": "Be brief."}
    async with connect(peer.url, credentials="sk-test", session=config) as session:
        sent = await peer.next_event("session.update")
        assert sent["session"] == config
        assert sent["event_id"].startswith("evt_")
        assert session.config.instructions == "Be brief."


async def test_close_is_idempotent_and_wakes_every_waiter(peer: ScriptedPeer) -> None:
    session = await connect(peer.url, credentials="sk-test")
    waiter = asyncio.create_task(session.wait_for("response.done", timeout=None))
    reader = asyncio.create_task(_drain(session))
    await asyncio.sleep(0)
    await asyncio.gather(session.close(), session.close())
    await session.close()
    with pytest.raises(ConnectionFailure, match="closed by the client") as caught:
        await waiter
    assert caught.value.code == "session_closed"
    events = await reader
    assert events[-1].target is State.CLOSED
    assert session.closed
    with pytest.raises(ConnectionFailure, match="closed"):
        await session.wait_for("response.done")
    with pytest.raises(ConnectionFailure, match="cannot send"):
        await session.commit_audio()
    await peer.disconnected.wait()


async def test_server_close_ends_the_stream_with_a_final_lifecycle_event(
    peer: ScriptedPeer,
) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        waiter = asyncio.create_task(session.wait_for("response.done", timeout=None))
        await peer.close(1001, "session cap reached")
        events = await _drain(session)
        last = events[-1]
        assert isinstance(last, LifecycleEvent)
        assert (last.target, last.trigger) == (State.CLOSED, Trigger.TRANSPORT_CLOSED)
        assert last.cause is not None and "1001" in last.cause
        assert (session.close_code, session.close_reason) == (1001, "session cap reached")
        with pytest.raises(ConnectionFailure, match="session cap reached"):
            await waiter
    assert session.state is State.CLOSED


async def test_a_dropped_connection_fails_the_session(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        assert peer.connection is not None
        peer.connection.transport.abort()
        events = await _drain(session)
    assert events[-1].target is State.FAILED
    assert session.close_code == 1006


async def test_an_error_before_session_created_fails_the_connect(peer: ScriptedPeer) -> None:
    peer.greeting = [
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "message": "Incorrect API key provided.",
            },
        }
    ]
    connector = connect(peer.url, credentials="sk-bad")
    with pytest.raises(ConnectionFailure, match="Incorrect API key") as caught:
        await connector
    assert caught.value.code == "invalid_api_key"
    assert connector.session.state is State.FAILED


async def test_server_closing_during_configuration_names_the_code(peer: ScriptedPeer) -> None:
    peer.greeting = []
    connector = connect(peer.url, credentials="sk-test", ack_timeout=5)
    task = asyncio.create_task(connector.__aenter__())
    await peer.connected.wait()
    await peer.close(1008, "policy")
    with pytest.raises(ConnectionFailure, match="1008: policy"):
        await task
    assert connector.session.state is State.CLOSED


async def test_no_session_created_times_out(peer: ScriptedPeer) -> None:
    peer.greeting = []
    with pytest.raises(EventTimeout, match="session.created"):
        await connect(peer.url, credentials="sk-test", ack_timeout=0.05)


async def test_refused_connect_fails_with_the_reason() -> None:
    connector = connect("ws://127.0.0.1:9/v1/realtime", credentials="sk-test")
    with pytest.raises(ConnectionFailure) as caught:
        await connector
    assert caught.value.code == "connection_refused"
    assert connector.session.state is State.FAILED
    assert connector.session.lifecycle.history[-1].source is State.CONNECTING


async def test_credentials_callables_are_called_on_every_connect(peer: ScriptedPeer) -> None:
    calls: list[str] = []

    def sync_key() -> str:
        calls.append("sync")
        return "sk-sync"

    async def async_key() -> str:
        calls.append("async")
        return "ek_async"

    for credentials in (sync_key, async_key, async_key):
        async with connect(peer.url, credentials=credentials):
            pass
    assert calls == ["sync", "async", "async"]
    assert peer.headers["Authorization"] == "Bearer ek_async"


@pytest.mark.parametrize(
    ("credentials", "code"),
    [
        ("", "invalid_credentials"),
        (lambda: 42, "invalid_credentials"),
        (lambda: 1 / 0, "credentials_failed"),
        (3.5, "invalid_credentials"),
    ],
)
async def test_bad_credentials_fail_before_connecting(credentials: Any, code: str) -> None:
    connector = connect("ws://127.0.0.1:9/v1/realtime", credentials=credentials)
    with pytest.raises(ConnectionFailure) as caught:
        await connector
    assert caught.value.code == code
    assert caught.value.origin is Origin.LOCAL
    assert connector.session.lifecycle.history[-1].source is State.AUTHENTICATING


async def test_open_twice_is_refused(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:
        with pytest.raises(LocalProtocolError, match="already"):
            await session.open()


async def test_unknown_transport_is_refused() -> None:
    with pytest.raises(ConnectionFailure, match="unknown transport"):
        connect("ws://127.0.0.1:9/", credentials="k", transport="carrier-pigeon")  # type: ignore[arg-type]


async def test_close_during_open_ends_closed_not_failed(peer: ScriptedPeer) -> None:
    peer.greeting = []
    connector = connect(peer.url, credentials="sk-test")
    opening = asyncio.create_task(connector.__aenter__())
    await peer.connected.wait()
    await connector.session.close()
    with pytest.raises(ConnectionFailure, match="closed by the client"):
        await opening
    assert connector.session.state is State.CLOSED


async def test_a_handler_may_close_the_session(peer: ScriptedPeer) -> None:
    async with connect(peer.url, credentials="sk-test") as session:

        @session.on("input_audio_buffer.cleared")
        async def hang_up(event: Any) -> None:
            await session.close(1000, "done")

        await peer.send({"type": "input_audio_buffer.cleared"})
        events = await _drain(session)
        assert events[-1].target is State.CLOSED
        assert "closed" in repr(session) and "sess_test" in repr(session)


async def test_a_response_asked_for_after_close_is_refused_not_queued(peer: ScriptedPeer) -> None:
    session = await connect(peer.url, credentials="sk-test")
    await session.create_response()  # the peer never answers: it holds the response gate
    await session.close()
    with pytest.raises(ConnectionFailure) as refused:
        await session.create_response()
    assert refused.value.code == "session_closed"
