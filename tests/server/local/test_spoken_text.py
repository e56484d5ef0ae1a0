"""A reply cut mid-clause keeps only the words its audio spoke, in every place it is told."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator

import pytest
from server_harness import RawClient, audio_bytes, memory_session, types
from vad_harness import Streamer, configure, speech

from rtagents.engines.base import LLMRequest
from rtagents.engines.scripted import MS_PER_CHAR, Rule, Say, ScriptedTTS, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.local.spoken_text import ASSUMED_MS_PER_CHAR, SpokenText
from rtagents.server.serving import RunningServer, running_server

FIRST = "alpha bravo charlie delta. "
SECOND = "echo foxtrot golf hotel india."
SPOKEN_OF_SECOND = "echo foxtrot golf "  # what the TTS below says before it stalls
STALL_AT = "hotel "
REPLY = FIRST + SECOND


class StallingTTS(ScriptedTTS):
    """The scripted voice, hanging before ``STALL_AT`` as a slow TTS would mid-clause."""

    async def synthesize(
        self, text: str, *, voice: str, speed: float = 1.0
    ) -> AsyncGenerator[bytes, None]:
        cut = text.find(STALL_AT)
        async for chunk in super().synthesize(text if cut < 0 else text[:cut], voice=voice):
            yield chunk
        if cut >= 0:
            await asyncio.Event().wait()  # until the response is cancelled


class Heard:
    """The model's side of the test: records every history it is given."""

    def __init__(self) -> None:
        self.requests: list[LLMRequest] = []

    def __call__(self, request: LLMRequest) -> bool:
        self.requests.append(request)
        return False  # never answers itself: the next rule does


HEARD = Heard()


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    rules = [Rule(when=HEARD, then=Say("unused")), Rule(when="count", then=Say(REPLY))]
    engines = dataclasses.replace(scripted_engines(rules), tts=StallingTTS())
    async with running_server(ServerConfig(port=0), engines) as running:
        yield running


async def test_a_cancelled_reply_keeps_only_what_its_audio_spoke(server: RunningServer) -> None:
    async with memory_session(server) as client:
        await client.user_text("count for me")
        await client.send({"type": "response.create"})
        spoken_ms = (len(FIRST) + len(SPOKEN_OF_SECOND)) * MS_PER_CHAR
        received: list[object] = []
        while audio_bytes(received) / 48 < spoken_ms:  # pcm16 24 kHz: 48 bytes per ms
            received.append(await client.recv())
        await client.send({"type": "response.cancel"})
        events = received + await client.until("rate_limits.updated")
        expected = (FIRST + SPOKEN_OF_SECOND).rstrip()
        assert audio_bytes(events) / 48 == spoken_ms  # nothing after the stall

        done = next(e for e in events if e.type == "response.output_audio_transcript.done")
        assert done.transcript == expected
        response = events[-2].response
        assert response.status == "cancelled"
        assert response.output[0].content[0].transcript == expected
        item_done = next(e for e in events if e.type == "conversation.item.done")
        assert item_done.item.content[0].transcript == expected
        retrieved = await client.roundtrip(
            {"type": "conversation.item.retrieve", "item_id": done.item_id},
            "conversation.item.retrieved",
        )
        assert retrieved.item.content[0].transcript == expected

        HEARD.requests.clear()
        await _next_turn(client)
        history = [m.content for m in HEARD.requests[-1].messages]
        assert history == ["count for me", expected, "and now?"]


async def test_a_barge_in_keeps_only_what_the_audio_spoke(server: RunningServer) -> None:
    async with memory_session(server) as client:
        await configure(client, {"type": "server_vad", "interrupt_response": True})
        await client.user_text("count for me")
        await client.send({"type": "response.create"})
        spoken_ms = (len(FIRST) + len(SPOKEN_OF_SECOND)) * MS_PER_CHAR
        received: list[object] = []
        while audio_bytes(received) / 48 < spoken_ms:
            received.append(await client.recv())
        streamer = Streamer(client)  # the caller speaks over the reply (server_vad)
        await streamer.send(speech("stop now"))
        seen = [s.event for s in streamer.seen]
        assert "input_audio_buffer.speech_started" in types(seen)
        if "rate_limits.updated" not in types(seen):
            seen += await client.until("rate_limits.updated")
        done = next(e for e in seen if e.type == "response.done").response
        assert (done.status, done.status_details.reason) == ("cancelled", "turn_detected")
        assert done.output[0].content[0].transcript == (FIRST + SPOKEN_OF_SECOND).rstrip()


async def _next_turn(client: RawClient) -> None:
    await client.user_text("and now?")
    events = await client.respond({"output_modalities": ["text"]})
    assert events[-2].response.status == "completed"


def test_a_clause_spoken_in_full_sets_the_rate() -> None:
    spoken = SpokenText()
    spoken.begin_clause("one two. ")
    spoken.add_audio(9 * 40.0)
    spoken.end_clause()
    assert spoken.ms_per_char == 40.0
    spoken.begin_clause("three four five")
    spoken.add_audio(11 * 40.0)  # "three four " of the clause
    spoken.cut_to_audio()
    assert spoken.text == "one two. three four"


def test_before_any_timing_the_slow_assumed_rate_keeps_too_little_rather_than_too_much() -> None:
    spoken = SpokenText(speed=2.0)
    assert spoken.ms_per_char == ASSUMED_MS_PER_CHAR / 2
    spoken.begin_clause("hello there friend")
    spoken.add_audio(len("hello there") * ASSUMED_MS_PER_CHAR / 2)
    spoken.cut_to_audio()
    assert spoken.text == "hello there"


def test_a_clause_cut_before_any_audio_keeps_nothing_of_it() -> None:
    spoken = SpokenText()
    spoken.begin_clause("said. ")
    spoken.add_audio(600)
    spoken.end_clause()
    spoken.begin_clause("never said")
    spoken.cut_to_audio()
    assert spoken.text == "said."
    spoken.cut_to_audio()  # nothing in flight: nothing changes
    assert spoken.text == "said."
