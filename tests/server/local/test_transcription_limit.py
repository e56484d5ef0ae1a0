"""A turn past ``limits.transcription_seconds`` fails aloud, naming the limit; shorter ones pass.

The limit is set to 2 s here so that the scripted speech stays short; the
default (180 s) is the same check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from server_harness import RawClient, memory_session
from vad_harness import Streamer, configure, speech

from rtagents.engines.base import Engines, Transcription
from rtagents.engines.energy_vad import EnergyVAD
from rtagents.engines.scripted import ScriptedLLM, ScriptedSTT, ScriptedTTS
from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import Limits
from rtagents.server.serving import running_server

TRANSCRIBED = {
    "output_modalities": ["text"],
    "audio": {"input": {"transcription": {"model": "whisper-1"}}},
}
LONG = "The quick brown fox jumps over the lazy dog, twice."  # 2.55 s of scripted speech
SHORT = "Hello there."
FAILED = "conversation.item.input_audio_transcription.failed"
COMPLETED = "conversation.item.input_audio_transcription.completed"


class CountingSTT(ScriptedSTT):
    """The scripted STT, counting the seconds of audio it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    async def transcribe(self, pcm16: bytes, *, language: str | None = None) -> Transcription:
        self.seconds.append(len(pcm16) / 2 / self.sample_rate)
        return await super().transcribe(pcm16, language=language)


@asynccontextmanager
async def limited_client(stt: ScriptedSTT, limit_s: int) -> AsyncIterator[RawClient]:
    engines = Engines(llm=ScriptedLLM(), tts=ScriptedTTS(), stt=stt, vad=EnergyVAD())
    config = ServerConfig(port=0, limits=Limits(transcription_seconds=limit_s))
    async with running_server(config, engines) as server:
        async with memory_session(server) as client:
            yield client


async def test_a_turn_past_the_limit_gets_failed_naming_it_and_the_next_turn_is_heard() -> None:
    stt = CountingSTT()
    async with limited_client(stt, limit_s=2) as client:
        await configure(client, {"type": "server_vad"}, **TRANSCRIBED)
        stream = Streamer(client)
        await stream.send(speech(LONG, lead_ms=300, tail_ms=200))
        await stream.quiet_until("input_audio_buffer.speech_stopped")
        failed = (await stream.until(FAILED)).event
        await stream.until("response.done")
        await stream.send(speech(SHORT, lead_ms=300, tail_ms=200))
        await stream.quiet_until("input_audio_buffer.speech_stopped", nth=2)
        completed = (await stream.until(COMPLETED)).event
    long_item, short_item = (e.item_id for e in stream.events("input_audio_buffer.committed"))
    assert failed.item_id == long_item and completed.item_id == short_item
    assert failed.error.code == "transcription_too_long"
    assert failed.error.type == "invalid_request_error"
    assert "transcription_seconds (2 s)" in failed.error.message
    assert "--limit-transcription-seconds" in failed.error.message
    assert not stream.events(COMPLETED)[:-1]  # the long turn never completed
    assert completed.transcript == SHORT
    # The long turn's commit never reached the engine; partial work on its first
    # two seconds may have (partials are refused only once past the limit).
    assert all(seconds <= 2 for seconds in stt.seconds)


async def test_push_to_talk_audio_past_the_limit_fails_the_same_way() -> None:
    async with limited_client(CountingSTT(), limit_s=2) as client:
        await configure(client, None, **TRANSCRIBED)
        stream = Streamer(client)
        await stream.send(speech(LONG))
        await client.send({"type": "input_audio_buffer.commit"})
        failed = (await stream.until(FAILED)).event
    assert failed.item_id == stream.first("input_audio_buffer.committed").event.item_id
    assert failed.error.code == "transcription_too_long"
    assert "past the limit transcription_seconds" in failed.error.message
