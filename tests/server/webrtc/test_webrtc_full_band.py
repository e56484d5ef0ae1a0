"""A call on a G.711 session still carries full-band audio, both ways.

``audio/pcmu`` and ``audio/pcma`` describe the audio of WebSocket events; on a
WebRTC call the audio travels as Opus at 48 kHz, so squeezing it through
8 kHz G.711 on the way (as the server once did with the model's speech)
throws away everything above 4 kHz for nothing. The scripted voice stays
under 3.5 kHz on purpose (it must survive G.711), so these tests speak a
two-tone signal instead — 1 kHz and 6 kHz at equal level — and measure, with
an FFT, how much of the 6 kHz tone arrives: at the caller's track (the
model's speech, from an engine at 24 kHz and one at 48 kHz, which the call
resamples once) and at the STT engine (the caller's speech).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import numpy as np
import pytest
from webrtc_peer import RawCall

from rtagents.engines.base import Engines, Transcription
from rtagents.engines.scripted import ScriptedLLM
from rtagents.protocol.audio import PCMU, pcm16_to_wire, wire_to_pcm16
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

RATE = 24_000  # what the test's engines speak and hear, and what the peer decodes to
LOW_HZ, HIGH_HZ = 1_000, 6_000
# Of the 6 kHz tone, full band keeps about all (Opus passes it); G.711 at 8 kHz
# keeps nothing (its band ends at 4 kHz: the reference below measures ~1e-9).
MIN_HIGH_SHARE = 0.25


def two_tones(seconds: float, rate: int = RATE) -> bytes:
    """pcm16 at ``rate``: a 1 kHz and a 6 kHz tone, equal amplitude."""
    t = np.arange(int(rate * seconds)) / rate
    mix = 0.2 * np.sin(2 * np.pi * LOW_HZ * t) + 0.2 * np.sin(2 * np.pi * HIGH_HZ * t)
    return np.round(mix * 32767).astype("<i2").tobytes()


def high_share(pcm16: bytes, rate: int) -> float:
    """Energy within 500 Hz of 6 kHz over energy within 500 Hz of 1 kHz."""
    samples = np.frombuffer(pcm16[: len(pcm16) - len(pcm16) % 2], dtype="<i2").astype(float)
    power = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)

    def band(centre: int) -> float:
        return float(power[np.abs(freqs - centre) <= 500].sum())

    low = band(LOW_HZ)
    assert low > 0, "no audio arrived at all"
    return band(HIGH_HZ) / low


class TwoToneTTS:
    """Says any text as the two tones at ``rate``, 50 ms per character (like the scripted voice)."""

    def __init__(self, rate: int = RATE) -> None:
        self.rate = rate

    @property
    def sample_rate(self) -> int:
        return self.rate

    async def synthesize(
        self, text: str, *, voice: str, speed: float = 1.0
    ) -> AsyncGenerator[bytes, None]:
        yield two_tones(len(text) * 0.05, self.rate)


class RecordingSTT:
    """Keeps the audio each commit hands the STT engine, so the test can measure it."""

    def __init__(self) -> None:
        self.heard: list[bytes] = []

    @property
    def sample_rate(self) -> int:
        return RATE

    async def transcribe(self, pcm16: bytes, *, language: str | None = None) -> Transcription:
        self.heard.append(pcm16)
        return Transcription(text="two tones", language=language)


@pytest.fixture
def stt() -> RecordingSTT:
    return RecordingSTT()


@contextlib.asynccontextmanager
async def serving(tts: TwoToneTTS, stt: RecordingSTT) -> AsyncIterator[RunningServer]:
    engines = Engines(llm=ScriptedLLM(), tts=tts, stt=stt, name="two-tone")
    config = ServerConfig(port=0, webrtc_loopback=True, call_connect_timeout_s=5.0)
    async with running_server(config, engines) as running:
        yield running


@pytest.fixture
async def server(stt: RecordingSTT) -> AsyncIterator[RunningServer]:
    async with serving(TwoToneTTS(), stt) as running:
        yield running


def g711_session(kind: str) -> dict[str, object]:
    audio_format = {"type": kind}
    return {
        "type": "realtime",
        "audio": {
            "input": {"format": audio_format, "turn_detection": None, "transcription": {}},
            "output": {"format": audio_format},
        },
    }


def test_the_reference_g711_round_trip_keeps_nothing_above_4_khz() -> None:
    """What the tests below rule out: the same signal through 8 kHz G.711 loses 6 kHz."""
    squeezed = wire_to_pcm16(pcm16_to_wire(two_tones(1.0), RATE, PCMU), PCMU, RATE)
    assert high_share(squeezed, RATE) < 1e-3
    assert high_share(two_tones(1.0), RATE) == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize(
    ("kind", "engine_rate"), [("audio/pcmu", RATE), ("audio/pcma", RATE), ("audio/pcmu", 48_000)]
)
async def test_the_models_speech_reaches_the_caller_full_band(
    stt: RecordingSTT, kind: str, engine_rate: int
) -> None:
    async with serving(TwoToneTTS(engine_rate), stt) as server:
        call = await RawCall.open(server, session=g711_session(kind))
        try:
            await call.until("conversation.created")
            await call.send({"type": "response.create"})
            done = (await call.until("response.done"))[-1]
            await call.until("output_audio_buffer.stopped")
            await asyncio.sleep(0.3)  # what is in flight (jitter buffer) arrives
            heard = bytes(call.heard)
            share = high_share(heard, RATE)
            print(f"{kind} call, {engine_rate} Hz engine -> caller: 6 kHz / 1 kHz = {share:.3g}")
            assert share > MIN_HIGH_SHARE
            # All of the reply was played (the resampler's tail included), not more.
            spoken_ms = len(done.response.output[0].content[0].transcript) * 50
            voiced = np.abs(np.frombuffer(heard, dtype="<i2")) > 1000
            assert abs(np.ptp(np.flatnonzero(voiced)) / RATE * 1000 - spoken_ms) < 60
        finally:
            await call.close()


@pytest.mark.parametrize("kind", ["audio/pcmu", "audio/pcma"])
async def test_the_callers_speech_reaches_the_model_full_band(
    server: RunningServer, stt: RecordingSTT, kind: str
) -> None:
    call = await RawCall.open(server, session=g711_session(kind))
    try:
        await call.until("conversation.created")
        call.track.enqueue(two_tones(1.5) + bytes(RATE // 5 * 2))  # + 0.2 s of silence
        await call.track.drained()
        await call.send({"type": "input_audio_buffer.commit"})
        await call.until("conversation.item.input_audio_transcription.completed")
        assert len(stt.heard) == 1
        share = high_share(stt.heard[0], RATE)
        print(f"{kind} call, caller -> STT: 6 kHz / 1 kHz energy = {share:.3g}")
        assert share > MIN_HIGH_SHARE
    finally:
        await call.close()
