"""Input audio fields the server accepts but does not use: shown to change nothing.

``audio.input.transcription.delay`` and ``audio.input.noise_reduction.strength``
are valid GA fields; this server echoes them and ignores them (the transcriber
has no latency knob, the spectral gate no strength knob). These tests pin
that: the STT engine is asked exactly the same, and the buffered audio is
byte for byte the same, with and without them. If one of them starts to do
something, its test fails and docs/conformance.md must say so.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from server_harness import RawClient, memory_session

from rtagents.engines.base import Engines, Transcription, TranscriptionHints
from rtagents.engines.scripted import ScriptedLLM, ScriptedSTT, ScriptedTTS, scripted_engines
from rtagents.protocol.audio import PCM_RATE
from rtagents.server.config import ServerConfig
from rtagents.server.local.noise_reduction import LIBRARY
from rtagents.server.serving import RunningServer, running_server

DELAYS = ["minimal", "low", "medium", "high", "xhigh"]
CHUNK = PCM_RATE * 20 // 1000 * 2  # one 20 ms append of pcm16


class AskedSTT(ScriptedSTT):
    """The scripted STT, keeping what each call was asked (language, hints, audio length)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str | None, TranscriptionHints | None, int]] = []

    async def transcribe(
        self, pcm16: bytes, *, language: str | None = None, hints: TranscriptionHints | None = None
    ) -> Transcription:
        self.asked.append((language, hints, len(pcm16)))
        return await super().transcribe(pcm16, language=language)


async def _transcribed(server: RunningServer, transcription: dict[str, Any]) -> str:
    async with memory_session(server) as client:
        audio = {"input": {"turn_detection": None, "transcription": transcription}}
        update = {"type": "session.update", "session": {"type": "realtime", "audio": audio}}
        updated = await client.roundtrip(update, "session.updated")
        echoed = updated.session.audio.input.transcription.model_dump(exclude_none=True)
        assert echoed.items() >= transcription.items()
        await client.say("hello there")
        done = await client.until("conversation.item.input_audio_transcription.completed")
    transcript: str = done[-1].transcript
    return transcript


@pytest.mark.conformance(
    "audio.input.transcription.delay=minimal",
    "audio.input.transcription.delay=low",
    "audio.input.transcription.delay=medium",
    "audio.input.transcription.delay=high",
    "audio.input.transcription.delay=xhigh",
    status="no-effect",
    client="raw",
    transport="in-process",
    note="echoed; the STT engine is asked exactly what it is asked without it",
)
@pytest.mark.parametrize("delay", DELAYS)
async def test_transcription_delay_changes_nothing_the_engine_is_asked(delay: str) -> None:
    stt = AskedSTT()
    engines = Engines(llm=ScriptedLLM(), tts=ScriptedTTS(), stt=stt, name="asked")
    async with running_server(ServerConfig(port=0), engines) as server:
        plain = await _transcribed(server, {"model": "whisper-1", "language": "en"})
        first = list(stt.asked)
        stt.asked.clear()
        delayed = await _transcribed(
            server, {"model": "whisper-1", "language": "en", "delay": delay}
        )
    assert plain == delayed == "hello there"
    assert stt.asked == first and first


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    LIBRARY.load_now()  # a session loads the denoiser on a worker thread; have it ready
    async with running_server(ServerConfig(port=0), scripted_engines()) as running:
        yield running


def _noise(seconds: float) -> bytes:
    samples = np.random.default_rng(7).standard_normal(int(seconds * PCM_RATE)) * 0.02
    return (samples * 32768).astype("<i2").tobytes()


async def _buffered(client: RawClient, noise_reduction: dict[str, Any], pcm16: bytes) -> bytes:
    audio_in = {"turn_detection": None, "noise_reduction": noise_reduction}
    update = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": audio_in}},
    }
    await client.roundtrip(update, "session.updated")
    for start in range(0, len(pcm16), CHUNK):
        piece = base64.b64encode(pcm16[start : start + CHUNK]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": piece})
    await client.send({"type": "input_audio_buffer.commit"})
    item_id = (await client.until("conversation.item.done"))[-1].item.id
    await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    retrieved = (await client.until("conversation.item.retrieved"))[-1]
    return base64.b64decode(retrieved.item.content[0].audio)


@pytest.mark.conformance(
    "audio.input.noise_reduction.strength",
    status="no-effect",
    client="raw",
    transport="in-process",
    note="echoed; the denoised audio is byte for byte the same without it",
)
async def test_noise_reduction_strength_changes_no_sample(server: RunningServer) -> None:
    noise = _noise(1.5)
    heard = []
    for setting in ({"type": "near_field"}, {"type": "near_field", "strength": 0.2}):
        async with memory_session(server) as client:  # a fresh denoiser each time
            heard.append(await _buffered(client, setting, noise))
    assert heard[0] == heard[1]
    assert heard[0] != noise  # the denoiser did run
