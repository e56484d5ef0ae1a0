"""Noise reduction on the input stream: the denoiser itself, then a session that uses it."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from server_harness import RawClient

from rtagents.protocol.audio import PCM_RATE
from rtagents.server.local.noise_reduction import (
    LIBRARY,
    TUNINGS,
    WARMUP_MS,
    StreamingDenoiser,
    noise_kind,
)

CHUNK = PCM_RATE * 20 // 1000 * 2  # bytes of one 20 ms append


@pytest.fixture(scope="module", autouse=True)
def library() -> None:
    LIBRARY.load_now()  # a session imports it on a worker thread; here it must be ready


def _pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 0.999) * 32768).astype("<i2").tobytes()


def _rms(pcm16: bytes) -> float:
    x = np.frombuffer(pcm16, dtype="<i2").astype(np.float64) / 32768
    return float(np.sqrt(np.mean(x**2)))


def _noisy_tone_burst(seconds: float = 3.0) -> tuple[bytes, slice]:
    """White noise throughout, a loud 300-3000 Hz chord from 1.5 s on (the "speech")."""
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * PCM_RATE)) / PCM_RATE
    voiced = t >= 1.5
    chord = sum(np.sin(2 * np.pi * f * t) for f in (300, 700, 1100, 1900, 3000)) * 0.06
    signal = rng.standard_normal(len(t)) * 0.02 + chord * voiced
    return _pcm16(signal), slice(int(1.6 * PCM_RATE) * 2, len(t) * 2)


def _stream(denoiser: StreamingDenoiser, pcm16: bytes) -> bytes:
    return b"".join(denoiser.process(pcm16[i : i + CHUNK]) for i in range(0, len(pcm16), CHUNK))


@pytest.mark.conformance(
    "audio.input.noise_reduction.type=near_field",
    "audio.input.noise_reduction.type=far_field",
    status="supported",
    client="none",
    transport="in-process",
    note="the spectral gate itself, each tuning (unit level)",
)
@pytest.mark.parametrize("kind", ["near_field", "far_field"])
def test_noise_is_gated_and_the_louder_signal_kept(kind: str) -> None:
    pcm, voiced = _noisy_tone_burst()
    out = _stream(StreamingDenoiser(kind), pcm)  # type: ignore[arg-type]
    assert len(out) == len(pcm)  # no delay, nothing added or dropped
    warm = PCM_RATE * WARMUP_MS // 1000 * 2
    assert out[: warm - CHUNK] == pcm[: warm - CHUNK]  # no noise estimate yet: unchanged
    noise_only = slice(int(0.5 * PCM_RATE) * 2, int(1.4 * PCM_RATE) * 2)
    assert _rms(out[noise_only]) < _rms(pcm[noise_only]) / 3  # more than 9.5 dB less noise
    assert _rms(out[voiced]) > _rms(pcm[voiced]) * 0.6  # the signal mostly kept


@pytest.mark.conformance(
    "audio.input.noise_reduction.type=far_field",
    status="supported",
    client="none",
    transport="in-process",
    note="far_field is tuned apart from near_field (unit level)",
)
def test_the_two_settings_are_tuned_apart_and_anything_else_is_off() -> None:
    near, far = TUNINGS["near_field"], TUNINGS["far_field"]
    assert far.n_fft > near.n_fft and far.threshold_std < near.threshold_std
    assert far.memory_s > near.memory_s
    assert noise_kind({"type": "far_field"}) == "far_field"
    assert noise_kind(None) is None and noise_kind({"type": "studio"}) is None


def test_odd_and_empty_chunks_pass_through_whole() -> None:
    denoiser = StreamingDenoiser("near_field")
    assert denoiser.process(b"") == b""
    pcm, _ = _noisy_tone_burst(1.0)
    out = b"".join(denoiser.process(pcm[i : i + 333 * 2]) for i in range(0, len(pcm), 333 * 2))
    assert len(out) == len(pcm)


@pytest.mark.conformance(
    "audio.input.noise_reduction.type=near_field",
    status="supported",
    client="raw",
    transport="in-process",
    note="the buffered input audio is denoised (before VAD and STT)",
)
async def test_a_session_with_noise_reduction_buffers_denoised_audio(client: RawClient) -> None:
    pcm, _ = _noisy_tone_burst(2.0)
    noise = pcm[: int(1.4 * PCM_RATE) * 2]  # the noise-only part
    results = {}
    for setting in (None, {"type": "near_field"}):
        audio_in = {"turn_detection": None, "noise_reduction": setting}
        update = {"type": "realtime", "audio": {"input": audio_in}}
        await client.roundtrip({"type": "session.update", "session": update}, "session.updated")
        for start in range(0, len(noise), CHUNK):
            piece = base64.b64encode(noise[start : start + CHUNK]).decode()
            await client.send({"type": "input_audio_buffer.append", "audio": piece})
        await client.send({"type": "input_audio_buffer.commit"})
        item_id = (await client.until("conversation.item.done"))[-1].item.id
        await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
        retrieved = (await client.until("conversation.item.retrieved"))[-1]
        results[str(setting)] = base64.b64decode(retrieved.item.content[0].audio)
    plain, denoised = results["None"], results[str({"type": "near_field"})]
    assert len(plain) == len(denoised) == len(noise)
    assert plain == noise
    late = slice(int(0.5 * PCM_RATE) * 2, None)  # after the estimate's warm-up
    assert _rms(denoised[late]) < _rms(noise[late]) / 3
