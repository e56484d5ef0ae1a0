"""The client SDK end to end against the rtagents server (scripted model).

Conversation behaviour runs over the in-memory session pair (the client
``Session`` and the server's host, no socket); what needs the wire (auth,
minting secrets over HTTP, a refused handshake) runs on loopback.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rtagents import connect, mint_client_secret
from rtagents.client import Session
from rtagents.engines.scripted import CallTool, Rule, scripted_engines, scripted_speech
from rtagents.protocol.errors import ConnectionFailure, LocalProtocolError, Origin
from rtagents.protocol.lifecycle import State, Trigger
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing import session_pair

TEXT_ONLY = {"type": "realtime", "output_modalities": ["text"]}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
RULES = [Rule(when=re.compile("weather"), then=CallTool("get_weather", {"city": "Paris"}))]


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0), scripted_engines(RULES)) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[Session]:
    async with session_pair(engines=scripted_engines(RULES), model="gpt-realtime") as pair:
        yield pair.client


async def _response(session: Session) -> Any:
    """Ask for a response and return its ``response.done``."""
    done = asyncio.create_task(session.wait_for("response.done", timeout=10))
    await asyncio.sleep(0)
    await session.create_response()
    return await done


def _reply_text(session: Session, response: Any) -> str:
    return " ".join(session.conversation.transcript(item.id) for item in response.output)


async def test_a_text_turn_fills_the_mirror(session: Session) -> None:
    updated = await session.update_session(TEXT_ONLY)
    assert updated.type == "session.updated"
    assert updated.session.output_modalities == ["text"]
    await session.send_text("hello there")
    done = await _response(session)
    assert done.response.status == "completed"
    [message] = done.response.output
    assert "hello there" in message.content[0].text
    mirror = session.conversation
    assert mirror.item_ids[-1] == message.id
    assert mirror.transcript(message.id) == message.content[0].text
    assert mirror.get(mirror.item_ids[0]).role == "user"  # type: ignore[union-attr]
    assert mirror.active_response_id is None


async def test_connect_with_a_callable_minting_ephemeral_secrets(server: RunningServer) -> None:
    minted: list[str] = []

    async def credentials() -> str:
        secret = await mint_client_secret(server.http_url, server.api_key, session=TEXT_ONLY)
        minted.append(secret.value)
        return secret.value

    for _ in range(2):
        async with connect(server.ws_url, credentials=credentials, model="gpt-realtime") as session:
            assert session.config.output_modalities == ["text"]
    assert len(minted) == 2 and all(value.startswith("ek_") for value in minted)
    assert minted[0] != minted[1]


async def test_audio_turn_with_a_manual_commit() -> None:
    config = {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}},
    }
    async with session_pair(engines=scripted_engines(RULES), session=config) as pair:
        session = pair.client
        transcribed = asyncio.create_task(
            session.wait_for("conversation.item.input_audio_transcription.completed", timeout=10)
        )
        await asyncio.sleep(0)
        await session.append_audio(scripted_speech("what time is it"))
        await session.commit_audio()
        done = await _response(session)
        user_item = (await transcribed).item_id
        assert session.conversation.transcript(user_item) == "what time is it"
        [message] = done.response.output
        assert "what time is it" in session.conversation.transcript(message.id)
        assert session.conversation.audio_ms(message.id) > 0


async def test_function_call_round_trip(session: Session) -> None:
    calls: list[dict[str, Any]] = []
    await session.update_session({**TEXT_ONLY, "tools": [WEATHER_TOOL]})

    @session.on("response.function_call_arguments.done")
    async def run_tool(event: Any) -> None:
        calls.append(json.loads(event.arguments))
        output = json.dumps({"forecast": "sunny"})
        await session.create_item(
            {"type": "function_call_output", "call_id": event.call_id, "output": output}
        )

    await session.send_text("what is the weather")
    first = await _response(session)
    assert first.response.output[0].type == "function_call"
    await session.wait_for("conversation.item.done", timeout=10)  # the tool output item
    second = await _response(session)
    assert calls == [{"city": "Paris"}]
    assert "sunny" in _reply_text(session, second.response)


async def test_server_errors_are_classified_and_the_session_goes_on(session: Session) -> None:
    failed = asyncio.create_task(session.wait_for("error", timeout=10))
    await asyncio.sleep(0)
    event_id = await session.commit_audio()  # nothing to commit
    event = await failed
    assert event.error.event_id == event_id
    error = session.errors[-1]
    assert isinstance(error, LocalProtocolError) and error.origin is Origin.LOCAL
    assert error.event_id == event_id
    await session.send_text("still here")
    assert (await _response(session)).response.status == "completed"


async def test_a_response_input_may_reference_an_item(session: Session) -> None:
    await session.update_session(TEXT_ONLY)
    added = asyncio.create_task(session.wait_for("conversation.item.done", timeout=10))
    await asyncio.sleep(0)
    await session.send_text("the referenced turn")
    referenced = (await added).item.id
    await session.send_text("a later turn")
    done = asyncio.create_task(session.wait_for("response.done", timeout=10))
    await asyncio.sleep(0)
    await session.create_response(
        conversation="none", input=[{"type": "item_reference", "id": referenced}]
    )
    response = (await done).response
    assert response.status == "completed"
    assert response.output[0].content[0].text == "You said: the referenced turn"


async def test_local_validation_error_never_reaches_the_server(session: Session) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        await session.update_session({"type": "realtime", "voice": "marin"})
    assert caught.value.param == "session.voice"
    assert "session.audio.output.voice" in caught.value.message
    assert session.errors == []


async def test_session_cap_ends_the_stream() -> None:
    async with session_pair(config=ServerConfig(port=0, session_cap_s=0.2)) as pair:
        session = pair.client
        events = [event async for event in session]
        assert (events[-1].target, events[-1].trigger) == (
            State.CLOSED,
            Trigger.TRANSPORT_CLOSED,
        )
        assert session.close_code == 1001


async def test_a_wrong_key_fails_the_connect_with_the_servers_reason(
    server: RunningServer,
) -> None:
    with pytest.raises(ConnectionFailure) as caught:
        await connect(server.ws_url, credentials="sk-wrong")
    assert caught.value.code == "invalid_api_key"


async def test_minting_with_a_wrong_key_is_mapped(server: RunningServer) -> None:
    with pytest.raises(ConnectionFailure) as caught:
        await mint_client_secret(server.http_url, "sk-wrong")
    assert caught.value.code == "invalid_api_key"
    assert "HTTP 401" in caught.value.message
    with pytest.raises(ConnectionFailure, match="between 10 and 7200"):
        await mint_client_secret(server.http_url, server.api_key, ttl_s=5)


async def test_minting_against_nothing_says_it_could_not_connect() -> None:
    with pytest.raises(ConnectionFailure, match="could not reach") as caught:
        await mint_client_secret("http://127.0.0.1:9", "sk-test")
    assert caught.value.code == "connection_failed"
