"""Transcription options reach the STT engine; logprobs reach the client when asked for.

The STT here is the scripted one, told what the session asked (it records the
hints) and giving one "token" per word with a fixed log probability, so what
the server does with them can be checked exactly. Whisper's own use of the
hints is tested in tests/engines/local/test_whisper_stt.py.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from server_harness import RawClient, memory_session
from vad_harness import Streamer, configure, speech

from rtagents.engines.base import (
    Engines,
    TokenLogprob,
    Transcription,
    TranscriptionHints,
)
from rtagents.engines.energy_vad import EnergyVAD
from rtagents.engines.scripted import ScriptedLLM, ScriptedSTT, ScriptedTTS
from rtagents.server.config import ServerConfig
from rtagents.server.local.transcription_options import logprobs_after, wire_logprobs
from rtagents.server.serving import running_server

LOGPROB = math.log(0.9)
OPTIONS = {
    "model": "whisper-1",
    "prompt": "A call to a restaurant.",
    "keywords": ["Siobhan", "Quetzalcoatl"],
    "language": "en",
}
LOGPROBS = ["item.input_audio_transcription.logprobs"]


class HintedSTT(ScriptedSTT):
    """The scripted STT, keeping the hints of every call; one token per word when asked."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str | None, TranscriptionHints | None]] = []

    async def transcribe(
        self, pcm16: bytes, *, language: str | None = None, hints: TranscriptionHints | None = None
    ) -> Transcription:
        self.calls.append((language, hints))
        heard = await super().transcribe(pcm16, language=language)
        if hints is None or not hints.logprobs:
            return heard
        pieces = [" " + word for word in heard.text.split()]
        logprobs = tuple(TokenLogprob(p, p.encode(), LOGPROB) for p in pieces)
        return Transcription(text=heard.text, language=language, logprobs=logprobs)


class OldSTT(ScriptedSTT):
    """An engine written before hints existed: ``transcribe`` takes no ``hints``."""

    async def transcribe(self, pcm16: bytes, *, language: str | None = None) -> Transcription:
        return await super().transcribe(pcm16, language=language)


@asynccontextmanager
async def voice_client(stt: ScriptedSTT) -> AsyncIterator[RawClient]:
    engines = Engines(llm=ScriptedLLM(), tts=ScriptedTTS(), stt=stt, vad=EnergyVAD())
    async with running_server(ServerConfig(port=0), engines) as server:
        async with memory_session(server) as client:
            yield client


async def _configure(client: RawClient, transcription: dict[str, object], **more: object) -> None:
    audio = {"input": {"turn_detection": None, "transcription": transcription}}
    session = {"type": "realtime", "output_modalities": ["text"], "audio": audio, **more}
    await client.roundtrip({"type": "session.update", "session": session}, "session.updated")


@pytest.mark.conformance(
    "audio.input.transcription.prompt",
    "audio.input.transcription.keywords",
    "audio.input.transcription.language",
    "include=item.input_audio_transcription.logprobs",
    status="supported",
    client="raw",
    transport="in-process",
    note="reach the STT engine as hints; logprobs come back in .completed",
)
async def test_prompt_keywords_and_language_reach_the_engine_and_logprobs_come_back() -> None:
    stt = HintedSTT()
    async with voice_client(stt) as client:
        await _configure(client, OPTIONS, include=LOGPROBS)
        await client.say("hello there")
        completed = (await client.until("conversation.item.input_audio_transcription.completed"))[
            -1
        ]
    ((language, hints),) = stt.calls
    assert language == "en"
    assert hints == TranscriptionHints(
        prompt="A call to a restaurant.", keywords=("Siobhan", "Quetzalcoatl"), logprobs=True
    )
    assert completed.transcript == "hello there"
    assert [(lp.token, bytes(lp.bytes), lp.logprob) for lp in completed.logprobs] == [
        (" hello", b" hello", round(LOGPROB, 6)),
        (" there", b" there", round(LOGPROB, 6)),
    ]


@pytest.mark.conformance(
    "audio.input.transcription.languages",
    status="supported",
    client="raw",
    transport="in-process",
    note="bounds the engine's language detection",
)
async def test_without_include_no_logprobs_are_computed_or_sent() -> None:
    stt = HintedSTT()
    async with voice_client(stt) as client:
        await _configure(client, {"model": "whisper-1", "languages": ["en", "de"]})
        await client.say("hi")
        events = await client.until("conversation.item.input_audio_transcription.completed")
    ((_, hints),) = stt.calls
    assert hints == TranscriptionHints(languages=("en", "de"))
    assert events[-1].logprobs is None
    deltas = [e for e in events if e.type.endswith("transcription.delta")]
    assert deltas and all(d.logprobs is None for d in deltas)


async def test_an_engine_without_hints_works_for_sessions_that_set_none() -> None:
    async with voice_client(OldSTT()) as client:
        await _configure(client, {"model": "whisper-1", "language": "en"})
        await client.say("plain")
        completed = await client.until("conversation.item.input_audio_transcription.completed")
    assert completed[-1].transcript == "plain"


@pytest.mark.conformance(
    "include=item.input_audio_transcription.logprobs",
    "conversation.item.input_audio_transcription.delta",
    status="supported",
    client="raw",
    transport="in-process",
    note="the last delta carries the logprobs of the words it adds",
)
async def test_a_voice_turn_sends_logprobs_only_with_its_final_transcript() -> None:
    stt = HintedSTT()
    long = "one two three four five six seven"
    async with voice_client(stt) as client:
        await configure(
            client,
            {"type": "server_vad", "create_response": False},
            audio={"input": {"transcription": {"model": "whisper-1"}}},
            include=LOGPROBS,
        )
        stream = Streamer(client)
        await stream.send(speech(long, lead_ms=200, tail_ms=700))
        completed = await stream.until("conversation.item.input_audio_transcription.completed")
    assert [lp.token for lp in completed.event.logprobs] == [" " + w for w in long.split()]
    partial = [hints for _, hints in stt.calls[:-1]]
    assert partial and all(h is None for h in partial)  # partials never ask for logprobs
    deltas = stream.events("conversation.item.input_audio_transcription.delta")
    sent = "".join(d.delta for d in deltas)
    assert sent == long
    # The last delta carries the logprobs of exactly the words it adds.
    last = deltas[-1]
    assert "".join(lp.token for lp in last.logprobs).strip() == last.delta.strip()


def test_logprobs_after_what_was_sent_count_bytes_past_the_leading_space() -> None:
    pieces = [" caf", "\u00e9", " au", " lait"]
    logprobs = [TokenLogprob(p, p.encode(), -0.1) for p in pieces]
    assert logprobs_after(logprobs, "") == logprobs
    assert [lp.token for lp in logprobs_after(logprobs, "café ")] == [" au", " lait"]
    assert [lp.token for lp in logprobs_after(logprobs, "café au lait")] == []
    assert wire_logprobs(logprobs[1:2]) == [
        {"token": "\u00e9", "bytes": [0xC3, 0xA9], "logprob": -0.1}
    ]
