"""One real voice turn: Piper speech in, Silero VAD and Whisper on the server.

The scripted engine proves the protocol exactly; this proves that the same
code finds a real utterance's boundaries and transcribes it. Speech is
synthesised on the spot (no audio files) and padded with known silence.
Tolerance: +-100 ms on the speech boundaries (Silero scores 32 ms windows
and smooths its onsets and offsets).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import numpy as np
import pytest
from server_harness import memory_session
from vad_harness import Streamer, configure

from rtagents.engines.base import Engines
from rtagents.engines.local.piper_tts import PiperTTS
from rtagents.engines.local.silero_vad import SileroVAD
from rtagents.engines.local.whisper_stt import WhisperSTT
from rtagents.engines.scripted import ScriptedLLM, ScriptedTTS
from rtagents.protocol.audio import resample_pcm16
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server

TEXT = "Please book a table for two."
LEAD_MS, TAIL_MS = 600, 900
TOLERANCE_MS = 100


@pytest.fixture(scope="module")
def engines() -> Iterator[Engines]:
    stt, vad = WhisperSTT(language="en"), SileroVAD()
    stt.load()
    vad.load()
    yield Engines(llm=ScriptedLLM(), tts=ScriptedTTS(), stt=stt, vad=vad, name="local")
    stt.close()


@pytest.fixture(scope="module")
def utterance() -> tuple[bytes, float, float]:
    """(pcm16 at 24 kHz, speech start ms, speech end ms)."""

    async def synthesize() -> bytes:
        tts = PiperTTS(variation=0.0)
        chunks = [c async for c in tts.synthesize(TEXT, voice="alloy")]
        return resample_pcm16(b"".join(chunks), tts.sample_rate, 24_000)

    speech = asyncio.run(synthesize())
    loud = np.flatnonzero(np.abs(np.frombuffer(speech, dtype="<i2")) > 328)  # -40 dBFS
    start, end = loud[0] / 24, (loud[-1] + 1) / 24
    audio = bytes(LEAD_MS * 48) + speech + bytes(TAIL_MS * 48)
    return audio, LEAD_MS + start, LEAD_MS + end


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


async def test_a_real_utterance_is_detected_transcribed_and_answered(
    engines: Engines, utterance: tuple[bytes, float, float]
) -> None:
    audio, start_ms, end_ms = utterance
    async with running_server(ServerConfig(port=0), engines) as server:
        async with memory_session(server) as client:
            transcribed = {"input": {"transcription": {"model": "whisper-1", "language": "en"}}}
            await configure(
                client, {"type": "server_vad"}, audio=transcribed, output_modalities=["text"]
            )
            stream = Streamer(client)
            await stream.send(audio)
            await stream.quiet_until("input_audio_buffer.speech_stopped")
            completed = await stream.until("conversation.item.input_audio_transcription.completed")
            done = await stream.until("response.done")
    started = stream.events("input_audio_buffer.speech_started")
    stopped = stream.events("input_audio_buffer.speech_stopped")
    assert len(started) == len(stopped) == 1
    assert started[0].audio_start_ms == pytest.approx(start_ms - 300, abs=TOLERANCE_MS)
    assert stopped[0].audio_end_ms == pytest.approx(end_ms, abs=TOLERANCE_MS)
    transcript = completed.event.transcript
    assert words(transcript) == words(TEXT)
    assert done.event.response.output[0].content[0].text == f"You said: {transcript}"
