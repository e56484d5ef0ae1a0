"""Input audio: append/commit/clear, transcription, and the model hearing speech."""

from __future__ import annotations

import base64

import pytest
from server_harness import RawClient, audio_bytes, memory_session, types

from rtagents.engines.base import Engines
from rtagents.engines.scripted import MS_PER_CHAR, ScriptedLLM, ScriptedTTS, scripted_speech
from rtagents.protocol.audio import PCMU, pcm16_to_wire
from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import Limits
from rtagents.server.serving import RunningServer, running_server

TRANSCRIBE = {
    "type": "session.update",
    "session": {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}},
}
TEXT_ONLY = {
    "type": "session.update",
    "session": {"type": "realtime", "output_modalities": ["text"]},
}


@pytest.mark.conformance(
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.committed",
    "conversation.item.added",
    "conversation.item.done",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_commit_adds_a_user_audio_item(client: RawClient) -> None:
    await client.say("hello there")
    events = await client.until("conversation.item.done")
    assert types(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    committed, added, _ = events
    assert committed.item_id == added.item.id and committed.item_id.startswith("item_")
    assert committed.previous_item_id is None
    assert added.item.role == "user" and added.item.content[0].type == "input_audio"


@pytest.mark.conformance(
    "audio.input.transcription.model",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    status="supported",
    client="raw",
    transport="in-process",
    note="any transcription model name turns transcription on; the server's STT engine transcribes",
)
async def test_transcription_events_when_configured(client: RawClient) -> None:
    await client.roundtrip(TRANSCRIBE, "session.updated")
    await client.say("hello there")
    events = await client.until("conversation.item.input_audio_transcription.completed")
    item_id = events[0].item_id
    delta, completed = events[-2:]
    assert delta.type == "conversation.item.input_audio_transcription.delta"
    assert delta.item_id == completed.item_id == item_id
    assert completed.transcript == "hello there"
    assert completed.usage.type == "duration"
    assert completed.usage.seconds == pytest.approx(len("hello there") * MS_PER_CHAR / 1000)


async def test_the_model_hears_committed_audio(client: RawClient) -> None:
    await client.roundtrip(TEXT_ONLY, "session.updated")
    await client.say("what time is it")
    await client.until("conversation.item.done")
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    assert events[-1].response.output[0].content[0].text == "You said: what time is it"
    # No transcription was asked for, so none was sent.
    assert not any("input_audio_transcription" in e.type for e in events)


@pytest.mark.conformance(
    "conversation.item.input_audio_transcription.completed",
    status="supported",
    client="raw",
    transport="in-process",
    note="may complete after the response started",
)
async def test_transcription_may_complete_after_the_response_started(client: RawClient) -> None:
    await client.roundtrip(TRANSCRIBE, "session.updated")
    await client.say("hi again")
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    seen = types(events)
    assert "conversation.item.input_audio_transcription.completed" in seen
    assert seen.index("response.created") < seen.index("response.output_item.added")


@pytest.mark.conformance(
    "input_audio_buffer.commit",
    "error",
    status="supported",
    client="raw",
    transport="in-process",
    note="input_audio_buffer_commit_empty under 100 ms",
)
async def test_commit_needs_100_ms(client: RawClient) -> None:
    error = await client.error({"type": "input_audio_buffer.commit", "event_id": "c1"})
    assert (error.code, error.event_id) == ("input_audio_buffer_commit_empty", "c1")
    short = base64.b64encode(b"\x00\x00" * 2399).decode()  # just under 100 ms
    await client.send({"type": "input_audio_buffer.append", "audio": short})
    error = await client.error({"type": "input_audio_buffer.commit"})
    assert error.code == "input_audio_buffer_commit_empty" and "100ms" in error.message


@pytest.mark.conformance(
    "input_audio_buffer.clear",
    "input_audio_buffer.cleared",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_clear_empties_the_buffer(client: RawClient) -> None:
    audio = base64.b64encode(scripted_speech("hello")).decode()
    await client.send({"type": "input_audio_buffer.append", "audio": audio})
    await client.roundtrip({"type": "input_audio_buffer.clear"}, "input_audio_buffer.cleared")
    error = await client.error({"type": "input_audio_buffer.commit"})
    assert error.code == "input_audio_buffer_commit_empty"


@pytest.mark.conformance(
    "audio.input.format[audio/pcmu]", status="supported", client="raw", transport="in-process"
)
async def test_pcmu_input_is_heard(client: RawClient) -> None:
    update = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {"input": {"format": {"type": "audio/pcmu"}}},
        },
    }
    await client.roundtrip(update, "session.updated")
    mulaw = pcm16_to_wire(scripted_speech("hello"), 24000, PCMU)
    await client.send(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(mulaw).decode()}
    )
    await client.send({"type": "input_audio_buffer.commit"})
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    assert "hello" in events[-1].response.output[0].content[0].text


@pytest.mark.conformance(
    "audio.output.format[audio/pcmu]", status="supported", client="raw", transport="in-process"
)
async def test_pcmu_output_duration_follows_the_text(client: RawClient) -> None:
    update = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"output": {"format": {"type": "audio/pcmu"}}}},
    }
    await client.roundtrip(update, "session.updated")
    await client.user_text("abc")
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    spoken = events[-1].response.output[0].content[0].transcript
    assert spoken == "You said: abc"
    expected_ms = len(spoken) * MS_PER_CHAR
    # G.711 is 8000 one-byte samples per second.
    assert audio_bytes(events) == pytest.approx(expected_ms * 8, abs=8)
    assert events[-1].response.audio.output.format.type == "audio/pcmu"


@pytest.mark.conformance(
    "conversation.item.input_audio_transcription.failed",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_transcription_failed_without_an_stt_engine() -> None:
    engines = Engines(llm=ScriptedLLM(), tts=ScriptedTTS(), stt=None, name="no-ears")
    async with running_server(ServerConfig(port=0), engines) as server:
        async with memory_session(server) as client:
            await client.roundtrip(TRANSCRIBE, "session.updated")
            await client.say("hello")
            events = await client.until("conversation.item.input_audio_transcription.failed")
    failed = events[-1]
    assert failed.error.code == "transcription_failed"
    assert "no STT engine" in failed.error.message


@pytest.mark.conformance(
    "type=transcription",
    status="supported",
    client="raw",
    transport="in-process",
    note="a transcription session transcribes and refuses response.create",
)
async def test_transcription_session_transcribes_and_refuses_responses(
    server: RunningServer,
) -> None:
    async with memory_session(server, query="intent=transcription") as client:
        await client.say("note this")
        events = await client.until("conversation.item.input_audio_transcription.completed")
        assert events[-1].transcript == "note this"
        error = await client.error({"type": "response.create"})
        assert "transcription session" in error.message


async def test_transcription_session_update(server: RunningServer) -> None:
    async with memory_session(server, query="intent=transcription") as client:
        update = {
            "type": "session.update",
            "session": {
                "type": "transcription",
                "audio": {
                    "input": {"transcription": {"model": "gpt-4o-transcribe", "language": "en"}}
                },
            },
        }
        updated = await client.roundtrip(update, "session.updated")
    transcription = updated.session.audio.input.transcription
    assert (transcription.model, transcription.language) == ("gpt-4o-transcribe", "en")


async def test_deleting_an_item_stops_its_transcription(client: RawClient) -> None:
    await client.roundtrip(TRANSCRIBE, "session.updated")
    await client.say("forget me")
    item_id = (await client.until("conversation.item.done"))[-1].item.id
    await client.send({"type": "conversation.item.delete", "item_id": item_id})
    events = await client.until("conversation.item.deleted")
    # Whatever transcription events raced the delete, none comes after it.
    await client.roundtrip({"type": "input_audio_buffer.clear"}, "input_audio_buffer.cleared")
    assert events[-1].item_id == item_id


@pytest.mark.conformance(
    "input_audio_buffer.append",
    status="supported",
    client="raw",
    transport="in-process",
    note="a full buffer refuses appends (input_audio_buffer_full) until committed",
)
async def test_a_full_input_buffer_refuses_appends_until_committed() -> None:
    limit = 48 * 1000  # one second of pcm16 at 24 kHz
    config = ServerConfig(port=0, limits=Limits(input_buffer_bytes=limit))
    async with running_server(config) as server, memory_session(server) as client:
        await _refused_until_committed(client, limit)


async def _refused_until_committed(client: RawClient, limit: int) -> None:
    second = base64.b64encode(bytes(limit)).decode()
    await client.send({"type": "input_audio_buffer.append", "audio": second})
    error = await client.error({"type": "input_audio_buffer.append", "audio": second})
    assert (error.code, error.param) == ("input_audio_buffer_full", "audio")
    assert "1.0 s" in error.message and "commit" in error.message
    committed = await client.roundtrip(
        {"type": "input_audio_buffer.commit"}, "input_audio_buffer.committed"
    )
    await client.until("conversation.item.done")
    await client.send({"type": "input_audio_buffer.append", "audio": second})
    await client.roundtrip({"type": "input_audio_buffer.clear"}, "input_audio_buffer.cleared")
    assert committed.item_id
