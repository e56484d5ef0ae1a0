"""The loudness VAD: exact on the tone code, chunk size never shifts its clock."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtagents.engines.base import VAD
from rtagents.engines.energy_vad import EnergyVAD
from rtagents.engines.scripted import scripted_speech
from rtagents.protocol.audio import PCM_RATE
from rtagents.protocol.resample import StreamResampler


def _voiced_span(vad: EnergyVAD, pcm16: bytes, chunks: list[int]) -> tuple[float, float]:
    resampler = StreamResampler(24_000, vad.sample_rate)
    scored = []
    at = 0
    for size in chunks:
        scored += vad.score(resampler.process(pcm16[at : at + size]))
        at += size
    scored += vad.score(resampler.process(pcm16[at:]))
    voiced = [w for w in scored if w.probability >= 0.5]
    return voiced[0].start_ms, voiced[-1].end_ms


def test_it_is_a_vad() -> None:
    assert isinstance(EnergyVAD(), VAD)


@given(
    lead_ms=st.integers(0, 80).map(lambda n: n * 10),
    chunk_ms=st.lists(st.sampled_from([20, 33, 40, 60, 100]), min_size=40, max_size=40),
    rate=st.sampled_from([16_000, 24_000]),
)
def test_tone_code_boundaries_are_exact_through_the_resampler(
    lead_ms: int, chunk_ms: list[int], rate: int
) -> None:
    speech = scripted_speech("hello there.")  # 12 characters: 600 ms
    audio = bytes(lead_ms * 48) + speech + bytes(500 * 48)
    span = _voiced_span(EnergyVAD(sample_rate=rate), audio, [ms * 48 for ms in chunk_ms])
    assert span == (lead_ms, lead_ms + 600)


def test_probability_maps_level_between_floor_and_ceiling() -> None:
    vad = EnergyVAD(sample_rate=16_000, window_ms=10)
    t = np.arange(160) / 16_000
    levels = []
    for amplitude_db in (-70.0, -40.0, -20.0, -3.0):
        peak = 10 ** ((amplitude_db + 3.0103) / 20)  # a sine's RMS is peak / sqrt(2)
        tone = np.round(np.sin(2 * np.pi * 500 * t) * peak * 32767).astype("<i2")
        levels.append(vad.score(tone.tobytes())[0].probability)
    assert levels[0] == 0.0 and levels[3] == 1.0  # below the floor, above the ceiling
    assert levels[1] == pytest.approx(0.5, abs=0.01)  # -40 dBFS sits halfway
    assert levels[2] == pytest.approx(1.0, abs=0.01)


def test_partial_windows_wait_and_reset_restarts_the_clock() -> None:
    vad = EnergyVAD(sample_rate=16_000, window_ms=10)
    assert vad.score(bytes(300)) == []  # 150 samples: not yet a window
    first = vad.score(bytes(40))  # 170 samples: one window, 10 left over
    assert [(w.start_ms, w.end_ms) for w in first] == [(0.0, 10.0)]
    assert [w.start_ms for w in vad.score(bytes(620))] == [10.0, 20.0]
    vad.reset()
    assert [w.start_ms for w in vad.score(bytes(320))] == [0.0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sample_rate": 0},
        {"window_ms": 0},
        {"floor_db": -10.0, "ceiling_db": -20.0},
        {"window_ms": 7, "sample_rate": 1000 + 1},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EnergyVAD(**kwargs)  # type: ignore[arg-type]


def test_it_takes_the_servers_rate_so_the_server_does_not_resample() -> None:
    assert EnergyVAD().sample_rate == PCM_RATE
    assert StreamResampler(PCM_RATE, EnergyVAD().sample_rate).passthrough


@given(
    energy=st.one_of(
        st.integers(0, 240 * 32768**2),
        st.sampled_from([0, 1, 240, 2 * 240 * 32768**2]),
    ),
    floor=st.integers(-90, -30),
    span=st.integers(1, 30),
)
def test_the_shortcuts_score_as_the_formula_does(energy: int, floor: int, span: int) -> None:
    """Below the floor and above the ceiling no logarithm is taken; the score is the same."""
    vad = EnergyVAD(window_ms=10, floor_db=floor, ceiling_db=floor + span)
    level = 10.0 * math.log10(energy / (240 * 32768.0**2) + 1e-12)
    expected = min(1.0, max(0.0, (level - floor) / span))
    assert vad._probability(energy) == pytest.approx(expected, abs=1e-9)
