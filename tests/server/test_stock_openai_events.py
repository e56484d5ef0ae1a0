"""The official ``openai`` client sends every GA client event and reads what our server answers.

One WebSocket session driven only through the SDK's typed methods
(``connection.input_audio_buffer.append``, ``connection.conversation.item.truncate``…):
a spoken turn with transcription, an audio reply, item retrieve / truncate /
delete, a cleared buffer, a cancelled reply, an error, and a server VAD turn.
Every server event is validated against the SDK's own discriminated union
``openai.types.realtime.RealtimeServerEvent`` (strict on the ``type`` tag and
each model's fields), so a shape the official client cannot read fails here.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from rtagents.engines.scripted import Rule, Say, scripted_engines, scripted_speech
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server

WAIT_S = 60  # generous: a loaded 2-core CI machine
SLOW = " ".join(["counting"] * 40)
SERVER_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)


class Reader:
    """Reads the connection's raw frames, validating each with the SDK's models."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.seen: list[str] = []

    async def until(self, event_type: str) -> list[Any]:
        events: list[Any] = []
        async with asyncio.timeout(WAIT_S):
            while True:
                event = SERVER_EVENTS.validate_json(await self.connection.recv_bytes())
                events.append(event)
                self.seen.append(event.type)
                if event.type == event_type:
                    return events


def _b64(audio: bytes) -> str:
    return base64.b64encode(audio).decode()


@pytest.fixture
async def reader() -> AsyncIterator[Reader]:
    engines = scripted_engines([Rule("count", Say(SLOW, token_delay_s=0.05))])
    async with running_server(ServerConfig(port=0), engines) as server:
        sdk = AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=server.api_key, max_retries=0)
        async with sdk.realtime.connect(model="gpt-realtime") as connection:
            yield Reader(connection)
        await sdk.close()


async def _spoken_turn(reader: Reader) -> tuple[str, str]:
    """A committed spoken turn with transcription and its audio reply: (user, assistant) ids."""
    c = reader.connection
    await reader.until("conversation.created")
    await c.session.update(
        session={
            "type": "realtime",
            "audio": {"input": {"transcription": {"model": "whisper-1"}, "turn_detection": None}},
        }
    )
    await reader.until("session.updated")
    await c.input_audio_buffer.append(audio=_b64(scripted_speech("hello there")))
    await c.input_audio_buffer.commit()
    committed = (await reader.until("input_audio_buffer.committed"))[-1]
    completed = await reader.until("conversation.item.input_audio_transcription.completed")
    assert completed[-1].transcript == "hello there"
    await c.response.create()
    done = (await reader.until("response.done"))[-1]
    assert done.response.status == "completed"
    assert done.response.output[0].content[0].transcript == "You said: hello there"
    await reader.until("rate_limits.updated")
    return committed.item_id, done.response.output[0].id


@pytest.mark.conformance(
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
    "session.created",
    "session.updated",
    "conversation.created",
    "input_audio_buffer.committed",
    "input_audio_buffer.cleared",
    "conversation.item.added",
    "conversation.item.done",
    "conversation.item.retrieved",
    "conversation.item.truncated",
    "conversation.item.deleted",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    "response.created",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_audio.delta",
    "response.output_audio_transcript.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
    "rate_limits.updated",
    "error",
    "audio.input.transcription.model",
    "output_modalities=audio",
    status="supported",
    client="openai",
    transport="websocket",
    note="sent with the SDK's typed methods; every server event validated by the SDK's models",
)
async def test_the_official_client_drives_every_client_event(reader: Reader) -> None:
    c = reader.connection
    user_item, assistant_item = await _spoken_turn(reader)
    await c.conversation.item.retrieve(item_id=user_item)
    assert (await reader.until("conversation.item.retrieved"))[-1].item.id == user_item
    await c.conversation.item.truncate(item_id=assistant_item, content_index=0, audio_end_ms=100)
    assert (await reader.until("conversation.item.truncated"))[-1].audio_end_ms == 100
    await c.conversation.item.delete(item_id=user_item)
    assert (await reader.until("conversation.item.deleted"))[-1].item_id == user_item
    await c.input_audio_buffer.append(audio=_b64(scripted_speech("scratch that")))
    await c.input_audio_buffer.clear()
    await reader.until("input_audio_buffer.cleared")
    await c.response.cancel(event_id="nothing_to_cancel")
    error = (await reader.until("error"))[-1].error
    assert (error.code, error.event_id) == ("response_cancel_not_active", "nothing_to_cancel")
    await c.conversation.item.create(
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "count"}],
        }
    )
    await c.response.create()
    await reader.until("response.output_audio.delta")
    await c.response.cancel()
    assert (await reader.until("response.done"))[-1].response.status == "cancelled"
    for expected in ("conversation.item.added", "conversation.item.done", "response.created"):
        assert expected in reader.seen
    assert {
        "conversation.item.input_audio_transcription.delta",
        "response.output_audio_transcript.delta",
        "response.content_part.done",
    } <= set(reader.seen)


@pytest.mark.conformance(
    "audio.input.turn_detection[server_vad]",
    "audio.input.turn_detection[server_vad].silence_duration_ms",
    "audio.input.turn_detection[server_vad].create_response",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    status="supported",
    client="openai",
    transport="websocket",
    note="a server VAD turn read by the official client",
)
async def test_the_official_client_reads_a_server_vad_turn(reader: Reader) -> None:
    c = reader.connection
    await reader.until("conversation.created")
    detection = {"type": "server_vad", "silence_duration_ms": 200, "create_response": True}
    await c.session.update(
        session={
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": detection}},
        }
    )
    await reader.until("session.updated")
    silence = bytes(48 * 600)
    await c.input_audio_buffer.append(audio=_b64(silence + scripted_speech("hi") + silence))
    started = (await reader.until("input_audio_buffer.speech_started"))[-1]
    stopped = (await reader.until("input_audio_buffer.speech_stopped"))[-1]
    assert started.item_id == stopped.item_id and stopped.audio_end_ms > started.audio_start_ms
    done = (await reader.until("response.done"))[-1]
    assert done.response.output[0].content[0].text == "You said: hi"
