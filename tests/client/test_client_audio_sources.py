"""Audio an app hands to a call, in every accepted shape, as pcm16 mono 24 kHz."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from rtagents.client.audio_sources import to_pcm16


def _samples(pcm16: bytes) -> np.ndarray:
    return np.frombuffer(pcm16, dtype="<i2")


def test_float_and_int16_arrays_mono_or_stereo() -> None:
    assert _samples(to_pcm16(np.array([0.5, -0.5], dtype=np.float32))).tolist() == [16384, -16384]
    stereo = np.array([[100, 300], [-100, -300]], dtype=np.int16)
    assert _samples(to_pcm16(stereo)).tolist() == [200, -200]
    assert _samples(to_pcm16(np.array([[0.25, 0.75]]))).tolist() == [16384]


def test_other_rates_are_resampled_to_24k() -> None:
    second_at_48k = bytes(96_000)
    assert len(to_pcm16(second_at_48k, 48_000)) == 48_000
    assert len(to_pcm16(np.zeros(16_000, dtype=np.float32), 16_000)) == 48_000


def test_wav_files_read_their_own_rate_and_channels(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(np.array([[10, 30]] * 100, dtype="<i2").tobytes())
    assert _samples(to_pcm16(path)).tolist() == [20] * 100
    assert to_pcm16(str(path)) == to_pcm16(path)


def test_unusable_audio_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="odd"):
        to_pcm16(b"\x00\x00\x00")
    with pytest.raises(ValueError, match="3-D"):
        to_pcm16(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="int64"):
        to_pcm16(np.zeros(4, dtype=np.int64))
    with pytest.raises(TypeError, match="numpy array, pcm16 bytes or a WAV"):
        to_pcm16(42)  # type: ignore[arg-type]
    path = tmp_path / "u8.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(bytes(10))
    with pytest.raises(ValueError, match="8-bit"):
        to_pcm16(path)
