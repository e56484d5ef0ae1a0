"""semantic_vad in a live session: it ends a turn on the transcript of *this* silence, early.

A real server (in process, memory transport) with the scripted engines; the
STT answers only when the test opens its gate, and the LLM notes how much
audio the client had sent when each request began. The client streams in
lock step (``vad_harness``), so every wait is audio time, never a wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from server_harness import memory_session
from vad_harness import Streamer, configure, silence, speech

from rtagents.engines.base import Engines, LLMChunk, LLMRequest
from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.local.turn_detection import SEMANTIC_SILENCE_MS
from rtagents.server.serving import RunningServer, running_server

REPLY = "You are welcome. Anything else?"
COMPLETE_MS = SEMANTIC_SILENCE_MS["medium"]["complete"]
NEUTRAL_MS = SEMANTIC_SILENCE_MS["medium"]["neutral"]


class GatedSTT:
    """The scripted STT, answering only once ``gate`` is open (a slow transcription)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.gate = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def transcribe(self, audio: bytes, **options: Any) -> Any:
        await self.gate.wait()
        return await self._inner.transcribe(audio, **options)


class NotingLLM:
    """The scripted LLM, noting the client's sent audio (ms) at each request."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.streamer: Streamer | None = None
        self.began_at: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        self.began_at.append(self.streamer.sent_ms if self.streamer is not None else -1.0)
        return self._inner.stream(request)  # type: ignore[no-any-return]


@pytest.fixture
def stt() -> GatedSTT:
    return GatedSTT(scripted_engines().stt)


@pytest.fixture
def llm() -> NotingLLM:
    return NotingLLM(scripted_engines([Rule("thank", Say(REPLY))]).llm)


@pytest.fixture
async def server(stt: GatedSTT, llm: NotingLLM) -> AsyncIterator[RunningServer]:
    inner = scripted_engines()
    engines = Engines(llm=llm, tts=inner.tts, stt=stt, vad=inner.vad, name="scripted")  # type: ignore[arg-type]
    async with running_server(ServerConfig(port=0), engines) as running:
        yield running


async def test_a_complete_turn_ends_once_its_transcript_is_in_and_uses_the_held_reply(
    server: RunningServer, stt: GatedSTT, llm: NotingLLM
) -> None:
    async with memory_session(server) as client:
        await configure(client, {"type": "semantic_vad"})  # default eagerness: auto = medium
        streamer = Streamer(client)
        llm.streamer = streamer
        await streamer.send(speech("Thank you.", lead_ms=200))
        speech_end = streamer.sent_ms
        # Longer than the "complete" wait, but nothing heard this silence yet: neutral.
        await streamer.send(silence(COMPLETE_MS + 150))
        assert "input_audio_buffer.speech_stopped" not in streamer.types()
        assert llm.began_at == []  # the held reply waits for the same transcript
        stt.gate.set()  # "Thank you." is in: complete, and the silence is long enough
        stopped = await streamer.quiet_until("input_audio_buffer.speech_stopped")
        assert stopped.sent_ms - speech_end < NEUTRAL_MS
        before_stop = streamer.types()[
            : streamer.types().index("input_audio_buffer.speech_stopped")
        ]
        assert not [t for t in before_stop if t.startswith(("response.", "conversation.item"))]
        await streamer.until("response.done")
    assert len(llm.began_at) == 1  # the response took the reply prepared in the silence
    done = streamer.events("response.done")[0].response
    assert done.status == "completed"
    assert done.output[0].content[0].transcript == REPLY


async def test_an_unfinished_turn_rides_out_a_pause_and_ends_after_the_rest(
    server: RunningServer, stt: GatedSTT
) -> None:
    stt.gate.set()
    async with memory_session(server) as client:
        await configure(client, {"type": "semantic_vad"})
        streamer = Streamer(client)
        await streamer.send(speech("a table for", lead_ms=200))
        await streamer.send(silence(600))  # a thinking pause
        assert "input_audio_buffer.speech_stopped" not in streamer.types()
        await streamer.send(speech(" two people."))
        speech_end = streamer.sent_ms
        stopped = await streamer.quiet_until("input_audio_buffer.speech_stopped")
        assert stopped.sent_ms - speech_end < NEUTRAL_MS  # the whole sentence reads complete
        await streamer.until("response.done")
    assert streamer.types().count("input_audio_buffer.speech_stopped") == 1
    done = streamer.events("response.done")[0].response
    assert "a table for  two people." in done.output[0].content[0].transcript  # one whole turn
