"""Streaming transcription of voice turns, end to end through a real server's session host.

The STT engines here wrap the scripted one to *watch* it (how often it runs,
on how much audio) or to hold it, never to change what it hears.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from server_harness import RawClient, memory_session
from vad_harness import Streamer, configure, silence, speech

from rtagents.engines.base import EngineFailure, Engines, Transcription
from rtagents.engines.energy_vad import EnergyVAD
from rtagents.engines.scripted import ScriptedLLM, ScriptedSTT, ScriptedTTS
from rtagents.engines.stage import Stage, current_stage
from rtagents.server.config import ServerConfig
from rtagents.server.local.transcription import stable_prefix
from rtagents.server.serving import running_server

TRANSCRIBED = {
    "output_modalities": ["text"],
    "audio": {"input": {"transcription": {"model": "whisper-1"}}},
}
LONG = "The quick brown fox jumps over the lazy dog, twice."  # 2.55 s


class WatchedSTT(ScriptedSTT):
    """The scripted STT, noting the length (ms) of every audio it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[float] = []
        self.stages: list[Stage] = []  # what each call serves (engines/stage.py)
        self.gate = asyncio.Event()
        self.gate.set()
        self.hold_from = 0  # calls from this one on wait for the gate
        self.hold_only: int | None = None  # or only this call (counted from 1) waits
        self.cancelled = 0  # calls whose caller stopped waiting

    async def transcribe(self, pcm16: bytes, *, language: str | None = None) -> Transcription:
        self.calls.append(len(pcm16) / 48)
        self.stages.append(current_stage())
        held = self.hold_only
        if (len(self.calls) == held) if held is not None else len(self.calls) > self.hold_from:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return await super().transcribe(pcm16, language=language)


class BrokenSTT(ScriptedSTT):
    async def transcribe(self, pcm16: bytes, *, language: str | None = None) -> Transcription:
        raise EngineFailure("the model file is corrupt", hint="reinstall the whisper package")


@asynccontextmanager
async def voice_client(
    stt: ScriptedSTT, query: str = "model=gpt-realtime"
) -> AsyncIterator[RawClient]:
    engines = Engines(llm=ScriptedLLM(), tts=ScriptedTTS(), stt=stt, vad=EnergyVAD())
    async with running_server(ServerConfig(port=0), engines) as server:
        async with memory_session(server, query=query) as client:
            yield client


@pytest.mark.conformance(
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_deltas_and_completed_carry_the_spoken_text_and_reuse_the_speculation() -> None:
    stt = WatchedSTT()
    async with voice_client(stt) as client:
        await configure(client, {"type": "server_vad"}, **TRANSCRIBED)
        stream = Streamer(client)
        await stream.send(speech(LONG, lead_ms=300))
        during_speech = list(stt.calls)
        await stream.quiet_until("input_audio_buffer.speech_stopped")
        at_stop = list(stt.calls)
        completed = (
            await stream.until("conversation.item.input_audio_transcription.completed")
        ).event
        done = await stream.until("response.done")
    # Partial transcriptions ran while the user spoke, on the audio so far.
    assert len(during_speech) >= 2 and during_speech == sorted(during_speech)
    assert during_speech[-1] < 2550
    # The final transcription started at the silence onset and was used as is.
    assert len(at_stop) == len(during_speech) + 1 and stt.calls == at_stop
    deltas = stream.events("conversation.item.input_audio_transcription.delta")
    item_id = stream.first("input_audio_buffer.committed").event.item_id
    assert {d.item_id for d in deltas} == {item_id} and completed.item_id == item_id
    assert "".join(d.delta for d in deltas) == completed.transcript == LONG
    assert completed.content_index == 0
    assert completed.usage.seconds == pytest.approx(0.3 + 2.55 + 0.5, abs=0.06)  # padded..decided
    assert done.event.response.output[0].content[0].text == f"You said: {LONG}"


async def test_a_pause_shorter_than_the_turn_gap_is_not_the_end() -> None:
    stt = WatchedSTT()
    async with voice_client(stt) as client:
        await configure(client, {"type": "server_vad"}, **TRANSCRIBED)
        stream = Streamer(client)
        # The pause starts a speculative transcription of "hello" only; "world." voids it.
        await stream.send(speech("hello", lead_ms=200, tail_ms=300) + speech("world.", tail_ms=500))
        await stream.quiet_until("input_audio_buffer.speech_stopped")
        completed = await stream.until("conversation.item.input_audio_transcription.completed")
        done = await stream.until("response.done")
    assert len(stream.events("input_audio_buffer.speech_started")) == 1
    assert completed.event.transcript == "hello world."
    assert done.event.response.output[0].content[0].text == "You said: hello world."


async def test_speech_after_a_pause_cancels_the_pauses_running_transcription() -> None:
    """The pause's speculative job is running (held) when speech resumes: it is cancelled,
    and the turn's own transcription does not wait for it (before, jobs ran in order, so
    this turn's transcript waited for a result nobody would read)."""
    stt = WatchedSTT()
    stt.gate.clear()
    stt.hold_only = 1  # "hello" is under a second: the pause's job is the first call
    async with voice_client(stt) as client:
        await configure(client, {"type": "server_vad"}, **TRANSCRIBED)
        stream = Streamer(client)
        await stream.send(speech("hello", lead_ms=200, tail_ms=300))
        assert len(stt.calls) == 1 and stt.cancelled == 0  # running, held
        await stream.send(speech("world.", tail_ms=500))
        await stream.quiet_until("input_audio_buffer.speech_stopped")
        completed = await stream.until("conversation.item.input_audio_transcription.completed")
    assert stt.cancelled == 1
    assert completed.event.transcript == "hello world."
    assert len(stt.calls) == 2  # the held one, then the turn's (nothing waited behind it)


async def test_turns_inside_one_large_append_keep_their_own_words() -> None:
    async with voice_client(WatchedSTT()) as client:
        await configure(client, {"type": "server_vad", "create_response": False}, **TRANSCRIBED)
        stream = Streamer(client)
        audio = speech("first.", lead_ms=100, tail_ms=700) + speech("second.", tail_ms=700)
        await stream.send(audio, chunk_ms=1000)  # both turns end inside the same second
        await stream.until("conversation.item.input_audio_transcription.completed", nth=2)
    starts = [e.audio_start_ms for e in stream.events("input_audio_buffer.speech_started")]
    ends = [e.audio_end_ms for e in stream.events("input_audio_buffer.speech_stopped")]
    assert (starts, ends) == ([0, 900], [400, 1450])
    completed = stream.events("conversation.item.input_audio_transcription.completed")
    assert [c.transcript for c in completed] == ["first.", "second."]


async def test_transcription_never_holds_up_the_audio() -> None:
    stt = WatchedSTT()
    stt.gate.clear()
    async with voice_client(stt) as client:
        await configure(client, {"type": "server_vad", "silence_duration_ms": 200}, **TRANSCRIBED)
        stream = Streamer(client)
        await stream.send(speech("first", lead_ms=100, tail_ms=300))
        await stream.send(speech("second", lead_ms=100, tail_ms=300))
        # Every append was answered and both turns committed while the STT was held.
        assert len(stream.events("input_audio_buffer.committed")) == 2
        assert not stream.events("conversation.item.input_audio_transcription.completed")
        assert not stream.events("response.output_text.delta")
        stt.gate.set()
        first = await stream.until("conversation.item.input_audio_transcription.completed")
        second = await stream.until("conversation.item.input_audio_transcription.completed", nth=2)
    assert (first.event.transcript, second.event.transcript) == ("first", "second")


async def test_a_partial_transcript_is_sent_early_when_the_final_is_late() -> None:
    stt = WatchedSTT()
    stt.gate.clear()
    stt.hold_from = 2  # the partials run; the final (speculative) one is held
    async with voice_client(stt) as client:
        await configure(client, {"type": "server_vad"}, **TRANSCRIBED)
        stream = Streamer(client)
        await stream.send(speech(LONG, lead_ms=300))
        await stream.quiet_until("input_audio_buffer.speech_stopped")
        await stream.until("conversation.item.input_audio_transcription.delta")
        (early,) = stream.events("conversation.item.input_audio_transcription.delta")
        stt.gate.set()
        completed = (
            await stream.until("conversation.item.input_audio_transcription.completed")
        ).event
    assert len(stt.calls) == 3
    # The partials are only shown; the last call is the turn's own transcript.
    assert stt.stages == [Stage.PARTIAL, Stage.PARTIAL, Stage.TURN_END]
    # Whole words heard by the last partial (~2 s of speech) went out at the commit.
    assert early.delta.endswith(" ") and LONG.startswith(early.delta) and len(early.delta) > 30
    deltas = stream.events("conversation.item.input_audio_transcription.delta")
    assert len(deltas) == 2 and "".join(d.delta for d in deltas) == completed.transcript == LONG


@pytest.mark.conformance(
    "conversation.item.input_audio_transcription.failed",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_an_engine_failure_is_reported_and_the_session_goes_on() -> None:
    async with voice_client(BrokenSTT()) as client:
        await configure(client, {"type": "server_vad"}, **TRANSCRIBED)
        stream = Streamer(client)
        await stream.send(speech("anyone there?", lead_ms=100, tail_ms=500))
        await stream.quiet_until("input_audio_buffer.speech_stopped")
        failed = (await stream.until("conversation.item.input_audio_transcription.failed")).event
        done = await stream.until("response.done")
    item_id = stream.first("input_audio_buffer.committed").event.item_id
    assert (failed.item_id, failed.content_index) == (item_id, 0)
    assert "the model file is corrupt" in failed.error.message
    assert "reinstall the whisper package" in failed.error.message
    assert done.event.response.status == "completed"


async def test_without_input_transcription_the_model_still_hears_the_words() -> None:
    async with voice_client(WatchedSTT()) as client:
        await configure(client, {"type": "server_vad"}, output_modalities=["text"])
        stream = Streamer(client)
        await stream.send(speech("Quiet please.", lead_ms=100, tail_ms=500))
        await stream.quiet_until("input_audio_buffer.speech_stopped")
        done = await stream.until("response.done")
    assert not [t for t in stream.types() if "input_audio_transcription" in t]
    assert done.event.response.output[0].content[0].text == "You said: Quiet please."


@pytest.mark.conformance(
    "type=transcription",
    "audio.input.turn_detection[server_vad]",
    status="supported",
    client="raw",
    transport="in-process",
    note="a transcription session with server_vad transcribes each turn and never responds",
)
async def test_a_transcription_session_with_server_vad_only_transcribes() -> None:
    async with voice_client(WatchedSTT(), query="intent=transcription") as client:
        update = {
            "type": "transcription",
            "audio": {"input": {"turn_detection": {"type": "server_vad"}}},
        }
        await client.roundtrip({"type": "session.update", "session": update}, "session.updated")
        stream = Streamer(client)
        await stream.send(speech("Take a note.", lead_ms=100, tail_ms=500))
        await stream.quiet_until("input_audio_buffer.speech_stopped")
        completed = await stream.until("conversation.item.input_audio_transcription.completed")
        await stream.send(silence(100))
    assert completed.event.transcript == "Take a note."
    assert "response.created" not in stream.types()


@pytest.mark.parametrize(
    ("partial", "stable"),
    [
        ("", ""),
        ("hello", ""),
        ("hello wor", "hello "),
        ("hello world and", "hello world "),
        ("hello \ufffd", "hello "),
        ("one two [unintelligible audio 0.4 s]", "one two "),
    ],
)
def test_stable_prefix_drops_the_word_that_may_be_cut(partial: str, stable: str) -> None:
    assert stable_prefix(partial) == stable
