"""Every GA client event through the SDK's typed helpers, against the real server.

Each test also checks that the client's conversation mirror and the server's
own conversation agree item by item: both are the same reducer fed the same
events, once on each side of the link. The conversation tests run over the
in-memory session pair; what is about the socket (a WebSocket refusal, a secret
checked at the handshake) runs on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rtagents import connect, mint_client_secret
from rtagents.client import Session
from rtagents.engines.scripted import MS_PER_CHAR, Rule, Say, scripted_engines, scripted_speech
from rtagents.protocol.errors import ConnectionFailure
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.server.state import ServerState
from rtagents.testing import FakeClock, session_pair
from rtagents.testing.in_memory import SessionPair

AUDIO_OUT = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {"input": {"transcription": {"model": "whisper-1"}}},
}
SLOW = [Rule(when="slowly", then=Say("one two three four five six seven", token_delay_s=0.05))]


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0), scripted_engines(SLOW)) as running:
        yield running


@pytest.fixture
async def pair() -> AsyncIterator[SessionPair]:
    async with session_pair(engines=scripted_engines(SLOW)) as joined:
        yield joined


def _server_item_ids(state: ServerState) -> list[str]:
    (host,) = state.sessions
    return host.conversation.item_ids


async def _respond(session: Session) -> Any:
    done = asyncio.create_task(session.wait_for("response.done", timeout=10))
    await asyncio.sleep(0)
    await session.create_response()
    return (await done).response


async def _expect(session: Session, event_type: str, send: Any) -> Any:
    """Send (a coroutine) and return the first ``event_type`` that follows."""
    waiter = asyncio.create_task(session.wait_for(event_type, timeout=10))
    await asyncio.sleep(0)
    await send
    return await waiter


async def test_audio_buffer_events_and_item_lifecycle(pair: SessionPair) -> None:
    session = pair.client
    await session.update_session(AUDIO_OUT)
    await session.append_audio(scripted_speech("never mind"))
    await _expect(session, "input_audio_buffer.cleared", session.clear_audio())

    await session.append_audio(scripted_speech("hello computer"))
    # Wait for the transcript from before the commit: it may come right after it.
    transcribed = asyncio.create_task(
        session.wait_for("conversation.item.input_audio_transcription.completed", timeout=10)
    )
    committed = await _expect(session, "input_audio_buffer.committed", session.commit_audio())
    heard = await transcribed
    assert heard.item_id == committed.item_id and heard.transcript == "hello computer"

    retrieved = await _expect(
        session, "conversation.item.retrieved", session.retrieve_item(committed.item_id)
    )
    assert retrieved.item.id == committed.item_id

    response = await _respond(session)
    reply_id = response.output[0].id
    assert session.conversation.transcript(reply_id) == "You said: hello computer"
    assert session.conversation.item_ids == _server_item_ids(pair.state)

    await _expect(session, "conversation.item.deleted", session.delete_item(committed.item_id))
    assert committed.item_id not in session.conversation
    assert session.conversation.item_ids == _server_item_ids(pair.state) == [reply_id]


async def test_truncate_cuts_the_transcript_at_the_audio_heard(pair: SessionPair) -> None:
    session = pair.client
    await session.update_session(AUDIO_OUT)
    await session.send_text("tell me a story")
    item_id = (await _respond(session)).output[0].id
    produced = session.conversation.audio_ms(item_id)
    assert produced == pytest.approx(len("You said: tell me a story") * MS_PER_CHAR, abs=1)

    too_far = await _expect(
        session, "error", session.truncate_item(item_id, audio_end_ms=int(produced) + 500)
    )
    assert too_far.error.param == "audio_end_ms"

    cut = await _expect(
        session, "conversation.item.truncated", session.truncate_item(item_id, audio_end_ms=500)
    )
    assert cut.audio_end_ms == 500
    heard = session.conversation.transcript(item_id)
    assert heard and "You said: tell me a story".startswith(heard)
    assert len(heard) < len("You said: tell me a story")
    (host,) = pair.state.sessions
    assert host.conversation.transcript(item_id) == heard


async def test_cancel_stops_a_response_and_nothing_follows_its_done(pair: SessionPair) -> None:
    session = pair.client
    await session.update_session({"type": "realtime", "output_modalities": ["text"]})
    await session.send_text("count slowly")
    events: list[str] = []
    session.on("*", lambda event: events.append(getattr(event, "type", "")))
    await _expect(session, "response.output_text.delta", session.create_response())
    done = await _expect(session, "response.done", session.cancel_response())
    assert done.response.status == "cancelled"
    nothing = await _expect(session, "error", session.cancel_response())
    assert nothing.error.code == "response_cancel_not_active"
    await asyncio.sleep(0.3)  # longer than several token delays: nothing may trail
    after_done = events[events.index("response.done") + 1 :]
    assert not [t for t in after_done if t.startswith("response.")]


async def test_output_audio_buffer_clear_is_refused_on_websocket(server: RunningServer) -> None:
    async with connect(server.ws_url, credentials=server.api_key) as session:
        refused = await _expect(session, "error", session.clear_output_audio())
        assert refused.error.code == "unsupported_on_websocket"
        assert "WebRTC" in refused.error.message
        await session.send_text("still fine")
        assert (await _respond(session)).status == "completed"


async def test_a_secret_expiring_mid_session_keeps_the_session_but_refuses_new_ones() -> None:
    clock = FakeClock()
    async with running_server(ServerConfig(port=0, clock=clock)) as server:
        secret = await mint_client_secret(server.http_url, server.api_key, ttl_s=10)
        async with connect(server.ws_url, credentials=secret.value) as session:
            await session.update_session({"type": "realtime", "output_modalities": ["text"]})
            clock.advance(11)
            with pytest.raises(ConnectionFailure) as refused:
                async with connect(server.ws_url, credentials=secret.value):
                    pass
            assert "expired" in refused.value.message
            await session.send_text("are you still there")
            assert (await _respond(session)).status == "completed"
