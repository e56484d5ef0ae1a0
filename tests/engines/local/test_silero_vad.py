"""Silero VAD on real synthesized speech padded with known silence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from local_speech import SENTENCES, Utterance, padded

from rtagents.engines.base import VAD, EngineFailure, SpeechProbability
from rtagents.engines.local import assets
from rtagents.engines.local.loadable import Loadable
from rtagents.engines.local.silero_vad import SUBFRAME_MS, WINDOW, WINDOW_MS, SileroVAD

THRESHOLD = 0.5
TOLERANCE_MS = 100


@pytest.fixture(scope="module")
def vad() -> SileroVAD:
    engine = SileroVAD()
    engine.load()
    return engine


@pytest.fixture(scope="module")
def utterances() -> list[Utterance]:
    return [padded(text, lead_ms=800, trail_ms=1200) for text in SENTENCES[:4]]


def speech_span(verdicts: Sequence[SpeechProbability]) -> tuple[float, float]:
    loud = [v for v in verdicts if v.probability > THRESHOLD]
    assert loud, "no window was scored as speech"
    return loud[0].start_ms, loud[-1].end_ms


def test_implements_the_protocols(vad: SileroVAD) -> None:
    assert isinstance(vad, VAD) and isinstance(vad, Loadable)
    assert vad.sample_rate == 16_000 and vad.loaded


def test_finds_speech_boundaries(vad: SileroVAD, utterances: list[Utterance]) -> None:
    for utterance in utterances:
        vad.reset()
        start, end = speech_span(vad.score(utterance.pcm16))
        assert start == pytest.approx(utterance.speech_start_ms, abs=TOLERANCE_MS)
        assert end == pytest.approx(utterance.speech_end_ms, abs=TOLERANCE_MS)


def test_digital_silence_scores_low(vad: SileroVAD) -> None:
    vad.reset()
    verdicts = vad.score(bytes(2 * 16_000 * 2))
    assert len(verdicts) == 2 * 16_000 // WINDOW
    assert max(v.probability for v in verdicts) < 0.1


def test_windows_tile_time_since_reset(vad: SileroVAD) -> None:
    vad.reset()
    verdicts = vad.score(bytes(2 * WINDOW * 3))
    assert [(v.start_ms, v.end_ms) for v in verdicts] == [
        (i * WINDOW_MS, (i + 1) * WINDOW_MS) for i in range(3)
    ]
    vad.reset()
    assert vad.score(bytes(2 * WINDOW))[0].start_ms == 0.0


def test_any_chunking_gives_the_same_verdicts(vad: SileroVAD, utterances: list[Utterance]) -> None:
    pcm = utterances[0].pcm16
    vad.reset()
    whole = vad.score(pcm)
    vad.reset()
    pieces: list[SpeechProbability] = []
    rng = np.random.default_rng(7)
    pos = 0
    while pos < len(pcm):
        size = int(rng.integers(1, 3000))  # from one byte (half a sample) to ~3 windows
        pieces.extend(vad.score(pcm[pos : pos + size]))
        pos += size
    assert [(v.start_ms, v.end_ms) for v in pieces] == [(v.start_ms, v.end_ms) for v in whole]
    assert np.allclose([v.probability for v in pieces], [v.probability for v in whole], atol=1e-5)


def test_state_carries_between_windows(vad: SileroVAD, utterances: list[Utterance]) -> None:
    """The same window scores differently after speech than after silence (recurrence)."""
    pcm = utterances[0].pcm16
    step = 2 * WINDOW  # bytes per window: keep the probe on the window grid
    middle = int(utterances[0].speech_start_ms + 200) * 32 // step * step
    probe = pcm[middle : middle + step]
    vad.reset()
    fresh = vad.score(probe)[0].probability
    vad.reset()
    vad.score(pcm[:middle])
    assert vad.score(probe)[0].probability != pytest.approx(fresh, abs=1e-4)


def test_both_packaged_graph_layouts_work(utterances: list[Utterance]) -> None:
    lite = assets.package_dir(assets.SILERO_LITE) / "data" / "silero_vad.onnx"
    v6 = assets.package_dir(assets.FASTER_WHISPER) / "assets" / "silero_vad_v6.onnx"
    utterance = utterances[1]
    for path in (lite, v6):
        engine = SileroVAD(path)
        start, end = speech_span(engine.score(utterance.pcm16))  # loads on first use
        assert utterance.speech_start_ms - 200 < start < end < utterance.speech_end_ms + 200


async def test_warm_up_leaves_a_fresh_stream() -> None:
    engine = SileroVAD()
    await engine.warm_up()
    assert engine.loaded and engine.score(bytes(2 * WINDOW))[0].start_ms == 0.0


def test_unusable_model_files_fail_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(EngineFailure, match="Could not load the Silero VAD model"):
        SileroVAD(junk).load()
    other = assets.piper_voice_files()[0]  # a valid ONNX graph, but not a VAD
    with pytest.raises(EngineFailure, match="not a Silero VAD graph"):
        SileroVAD(other).load()


def test_streams_share_the_model_but_not_the_state(
    vad: SileroVAD, utterances: list[Utterance]
) -> None:
    one, two = vad.new_stream(), vad.new_stream()
    assert one.loaded and one._graph is vad._graph is two._graph
    pcm = utterances[0].pcm16
    one.score(pcm[: len(pcm) // 4 * 2])  # `one` is mid-utterance; `two` has heard nothing
    two_verdicts = two.score(pcm)
    vad.reset()
    assert [v.probability for v in two_verdicts] == [v.probability for v in vad.score(pcm)]


def test_a_window_says_where_its_sound_ends(vad: SileroVAD) -> None:
    tone = (np.sin(np.arange(WINDOW + 200) * 2 * np.pi * 220 / 16_000) * 8_000).astype(np.int16)
    pcm = np.concatenate([tone, np.zeros(2 * WINDOW, dtype=np.int16)])
    vad.reset()
    loud, partly, quiet = (v.loud_until_ms for v in vad.score(pcm.tobytes()))
    assert loud == WINDOW_MS  # sound to its end
    # 200 samples (12.5 ms) of tone: the sub-frame holding its end is the last loud one.
    assert partly == WINDOW_MS + 16.0
    assert quiet == 2 * WINDOW_MS  # nothing loud: its start


def test_the_sound_end_of_real_speech_is_where_the_speech_ends(
    vad: SileroVAD, utterances: list[Utterance]
) -> None:
    for utterance in utterances:
        vad.reset()
        voiced = [v for v in vad.score(utterance.pcm16) if v.probability > THRESHOLD]
        ends = [v.loud_until_ms for v in voiced if v.loud_until_ms and v.loud_until_ms > v.start_ms]
        # Never before the last sample over 1 % of full scale (less a sub-frame), and
        # never after the last window the VAD calls speech.
        assert utterance.speech_end_ms - SUBFRAME_MS <= max(ends) <= voiced[-1].end_ms
