"""The committed clip sets' tolerance: float rounding passes, other speech does not."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from clip_contour import as_text, contour, same_contour  # noqa: E402

from rtagents.engines.local.piper_tts import PiperTTS  # noqa: E402

SENTENCE = "I would like to book a table for four people tomorrow evening."


def _speak(text: str, *, threads: int = 1, speed: float = 1.0) -> tuple[bytes, int]:
    tts = PiperTTS(variation=0.0, threads=threads)

    async def render() -> bytes:
        return b"".join([c async for c in tts.synthesize(text, voice="alloy", speed=speed)])

    return asyncio.run(render()), tts.sample_rate


@pytest.fixture(scope="module")
def spoken() -> tuple[bytes, int]:
    return _speak(SENTENCE)


def _same(a: bytes, b: bytes, rate: int) -> bool:
    return same_contour(contour(a, rate), as_text(contour(b, rate)))


def test_another_rounding_of_the_same_speech_keeps_its_contour(spoken: tuple[bytes, int]) -> None:
    # Four onnxruntime threads sum in another order than one: the samples may move
    # by a step, as they do on a CPU with other kernels.
    pcm, rate = spoken
    again, _ = _speak(SENTENCE, threads=4)
    assert len(again) == len(pcm)
    assert _same(again, pcm, rate)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
    jitter = np.random.default_rng(7).integers(-2, 3, len(samples))
    nudged = np.clip(samples + jitter, -32768, 32767).astype("<i2").tobytes()
    assert _same(nudged, pcm, rate)


def test_other_speech_of_the_same_length_does_not_pass(spoken: tuple[bytes, int]) -> None:
    pcm, rate = spoken
    other, _ = _speak("Please play the song my sister likes, and then turn it up loud.")
    other = (other + bytes(len(pcm)))[: len(pcm)]
    assert not _same(other, pcm, rate)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    quieter = np.round(samples * 0.5).astype("<i2").tobytes()  # 6 dB down
    assert not _same(quieter, pcm, rate)
    assert not _same(bytes(len(pcm)), pcm, rate)


def test_another_speed_changes_the_length(spoken: tuple[bytes, int]) -> None:
    pcm, rate = spoken
    faster, _ = _speak(SENTENCE, speed=1.2)
    assert len(faster) != len(pcm)
    assert not _same(faster, pcm, rate)
