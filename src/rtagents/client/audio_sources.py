"""Audio an app hands to a WebRTC call, as pcm16 mono 24 kHz (the track's format).

Apps have audio in many shapes: a numpy array from a microphone library
(float or int16, maybe stereo, at its device's rate), raw pcm16 bytes, or a
WAV file. One function turns each into what the outbound track plays.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ..protocol.audio import PCM_RATE, float32_to_pcm16, resample_pcm16

AudioSource: TypeAlias = "npt.NDArray[Any] | bytes | bytearray | memoryview | str | Path"
"""A numpy array, pcm16 bytes, or the path of a WAV file (16-bit PCM)."""


def to_pcm16(source: AudioSource, sample_rate: int = PCM_RATE) -> bytes:
    """``source`` as pcm16 mono at 24 kHz; ``sample_rate`` for arrays and bytes."""
    if isinstance(source, str | Path):
        return wav_to_pcm16(Path(source))
    if isinstance(source, bytes | bytearray | memoryview):
        pcm16 = bytes(source)
        if len(pcm16) % 2:
            raise ValueError(f"pcm16 audio holds whole 16-bit samples; {len(pcm16)} bytes is odd")
        return resample_pcm16(pcm16, sample_rate, PCM_RATE)
    if isinstance(source, np.ndarray):
        return resample_pcm16(_array_pcm16(source), sample_rate, PCM_RATE)
    raise TypeError(
        f"cannot send {type(source).__name__} as audio: pass a numpy array, pcm16 bytes or "
        "a WAV file path"
    )


def _array_pcm16(samples: npt.NDArray[Any]) -> bytes:
    if samples.ndim == 2:  # frames x channels
        samples = samples.mean(axis=1) if samples.dtype.kind == "f" else _mix_int(samples)
    elif samples.ndim != 1:
        raise ValueError(
            f"audio arrays are 1-D (mono) or 2-D (frames x channels), not {samples.ndim}-D"
        )
    if samples.dtype.kind == "f":
        return float32_to_pcm16(samples)
    if samples.dtype == np.int16:
        return samples.astype("<i2").tobytes()
    raise TypeError(f"audio arrays are float (-1..1) or int16, not {samples.dtype}")


def _mix_int(samples: npt.NDArray[Any]) -> npt.NDArray[Any]:
    mixed: npt.NDArray[Any] = np.rint(samples.astype(np.float64).mean(axis=1))
    return mixed.astype(samples.dtype)


def wav_to_pcm16(path: Path) -> bytes:
    """A 16-bit PCM WAV file's audio as pcm16 mono 24 kHz."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(
                f"{path} has {8 * wav.getsampwidth()}-bit samples; only 16-bit PCM WAV is read"
            )
        channels, rate = wav.getnchannels(), wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    samples = np.frombuffer(frames, dtype="<i2")
    if channels > 1:
        samples = _mix_int(samples.reshape(-1, channels))
    return resample_pcm16(samples.astype("<i2").tobytes(), rate, PCM_RATE)
