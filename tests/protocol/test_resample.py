"""Streaming resampler: continuous output across chunks, exact totals, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtagents.protocol.audio import float32_to_pcm16, pcm16_to_float32, resample_pcm16
from rtagents.protocol.resample import StreamResampler


def sweep(rate: int, seconds: float = 0.5) -> bytes:
    """A 200 Hz -> 3 kHz chirp: every chunk boundary lands on a different phase."""
    t = np.arange(int(rate * seconds)) / rate
    phase = 2 * np.pi * (200 * t + (2800 / (2 * seconds)) * t**2)
    return float32_to_pcm16(0.5 * np.sin(phase))


def stream_in_chunks(resampler: StreamResampler, pcm: bytes, sizes: list[int]) -> bytes:
    out, pos = [], 0
    for size in sizes:
        out.append(resampler.process(pcm[pos : pos + size]))
        pos += size
    out.append(resampler.process(pcm[pos:]))
    out.append(resampler.flush())
    return b"".join(out)


@pytest.mark.parametrize(("src", "dst"), [(24000, 16000), (16000, 24000), (24000, 8000)])
def test_chunked_stream_matches_one_shot(src: int, dst: int) -> None:
    pcm = sweep(src)
    whole = resample_pcm16(pcm, src, dst)
    chunked = stream_in_chunks(StreamResampler(src, dst), pcm, [962, 481, 2000, 38, 4800] * 4)
    assert abs(len(chunked) - len(whole)) <= 2  # same duration, within a sample
    n = min(len(whole), len(chunked)) // 2
    a = pcm16_to_float32(whole[: 2 * n])
    b = pcm16_to_float32(chunked[: 2 * n])
    # No clicks: the chunked stream is the same continuous signal, sample for sample.
    assert np.max(np.abs(a - b)) < 0.01


def test_naive_per_chunk_resampling_would_differ() -> None:
    """Shows the stream test can fail: restarting the filter per chunk breaks continuity."""
    pcm, size = sweep(24000), 480
    naive = b"".join(
        resample_pcm16(pcm[i : i + size], 24000, 16000) for i in range(0, len(pcm), size)
    )
    whole = resample_pcm16(pcm, 24000, 16000)
    diff = np.abs(pcm16_to_float32(naive) - pcm16_to_float32(whole[: len(naive)]))
    assert np.max(diff) > 0.05


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(0, 3000), max_size=12))
def test_totals_add_up_for_any_split(sizes: list[int]) -> None:
    pcm = sweep(24000, 0.4)
    out = stream_in_chunks(StreamResampler(24000, 16000), pcm, sizes)
    assert len(out) % 2 == 0
    assert abs(len(out) // 2 - round(len(pcm) // 2 * 16000 / 24000)) <= 1


def test_round_trip_keeps_the_signal() -> None:
    pcm = sweep(24000)
    down = stream_in_chunks(StreamResampler(24000, 16000), pcm, [1000] * 10)
    back = stream_in_chunks(StreamResampler(16000, 24000), down, [700] * 10)
    a, b = pcm16_to_float32(pcm), pcm16_to_float32(back)
    n = min(len(a), len(b))
    # Keep away from the edges, where the filters ramp in and out.
    core = slice(500, n - 500)
    assert np.corrcoef(a[core], b[core])[0, 1] > 0.99


def test_odd_bytes_are_carried_to_the_next_chunk() -> None:
    pcm = sweep(16000, 0.1)
    same_rate = StreamResampler(16000, 16000)
    assert same_rate.passthrough
    assert same_rate.process(pcm[:3]) + same_rate.process(pcm[3:]) == pcm
    assert same_rate.process(b"\x01") == b"" and same_rate.flush() == b""


def test_flush_starts_a_new_stream() -> None:
    resampler = StreamResampler(24000, 16000)
    pcm = sweep(24000, 0.2)
    first = resampler.process(pcm) + resampler.flush()
    second = resampler.process(pcm) + resampler.flush()
    assert first == second
    assert resampler.flush() == b""  # nothing pending


def test_reset_drops_pending_audio() -> None:
    resampler = StreamResampler(24000, 16000)
    resampler.process(sweep(24000, 0.2))
    resampler.reset()
    assert resampler.flush() == b""


def test_rates_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(0, 16000)
