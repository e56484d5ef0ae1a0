"""Long audio is cut at pauses into pieces Whisper hears whole, and keeps its words."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from local_speech import speak, words

from rtagents.engines.local.long_audio import MAX_PIECE_S, SEARCH_S, cut_points, pieces
from rtagents.engines.local.whisper_stt import WhisperSTT

RATE = 16_000
# Seventeen plain sentences (no numbers: Whisper writes digits), about 49 s
# when Piper speaks them in one go.
PASSAGE = (
    "The weather today is sunny and warm with a light breeze.",
    "Can you tell me how to get to the train station from here?",
    "Remind me to call my sister when I get home from work.",
    "Turn off the lights in the kitchen and lock the back door.",
    "I would like to order a large pizza with mushrooms and olives.",
    "What is the best way to keep bread fresh for a week?",
    "The library closes early on Sundays during the summer.",
    "A small boat drifted slowly across the quiet lake at dawn.",
    "Which platform does the next train to the airport leave from?",
    "She plays the piano every evening after dinner.",
    "Please move my dentist appointment to next Monday.",
    "Tell me a short story about a clever fox and a crow.",
    "The old bridge over the river was repaired last year.",
    "Open the window in the bedroom for some fresh air.",
    "The cat slept all afternoon in a patch of sunlight.",
    "How long does it take to drive from here to the mountains?",
    "I need to return these shoes because they are too small.",
)
# A long turn may lose at most this many points of word error rate against the
# same sentences heard one by one (the goal in docs/benchmarks.md is 2).
MAX_EXTRA_WER_POINTS = 2.0


def edits(reference: list[str], heard: list[str]) -> int:
    row = list(range(len(heard) + 1))
    for i, r in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(heard, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1]


def speech_with_pauses(seconds: list[float], pause_s: float) -> tuple[np.ndarray, list[float]]:
    """Loud noise bursts of the given lengths between silences; where the pauses' middles are."""
    rng = np.random.default_rng(5)
    parts, middles, at = [], [], 0.0
    for length in seconds:
        parts += [rng.normal(0, 0.3, int(length * RATE)), np.zeros(int(pause_s * RATE))]
        at += length
        middles.append(at + pause_s / 2)
        at += pause_s
    return np.concatenate(parts).astype(np.float32), middles


def test_short_audio_is_one_piece() -> None:
    audio = np.ones(int(MAX_PIECE_S * RATE), dtype=np.float32)
    assert cut_points(audio, RATE) == [] and len(pieces(audio, RATE)) == 1


def test_cuts_fall_in_pauses_and_the_pieces_are_all_of_it() -> None:
    phrases = [3.1, 4.2, 2.6, 3.9, 2.2, 4.4, 3.3, 2.9, 3.8, 4.1, 2.4, 3.6, 4.3, 2.8, 3.0, 3.7]
    audio, middles = speech_with_pauses(phrases, 0.3)  # every search span holds a pause
    cuts = cut_points(audio, RATE)
    assert len(cuts) >= 5, "60 s of audio is cut into pieces of at most 12 s"
    for cut in cuts:  # each cut within a pause, not inside a burst
        assert min(abs(cut / RATE - m) for m in middles) <= 0.15
    parts = pieces(audio, RATE)
    assert np.array_equal(np.concatenate(parts), audio)  # nothing lost, nothing twice
    assert all(len(p) <= MAX_PIECE_S * RATE for p in parts)
    assert all(len(p) >= (MAX_PIECE_S - SEARCH_S) * RATE for p in parts[:-1])


def test_unbroken_sound_is_still_cut_within_the_bound() -> None:
    audio = np.random.default_rng(1).normal(0, 0.3, 95 * RATE).astype(np.float32)
    assert all(len(p) <= MAX_PIECE_S * RATE for p in pieces(audio, RATE))


@pytest.fixture(scope="module")
def stt() -> Iterator[WhisperSTT]:
    engine = WhisperSTT(language="en")
    yield engine
    engine.close()


@pytest.mark.timeout(600)  # ~66 s of speech synthesized and heard twice on 2 loaded cores
async def test_a_long_turn_keeps_its_words(stt: WhisperSTT) -> None:
    """~49 s of continuous Piper speech: the word error rate of the sentences one by one, +2."""
    long_clip = speak(" ".join(PASSAGE))
    assert len(long_clip) / 2 / RATE > 45
    reference = words(" ".join(PASSAGE))
    short_edits = 0
    for sentence in PASSAGE:
        heard = (await stt.transcribe(speak(sentence))).text
        short_edits += edits(words(sentence), words(heard))
    heard_long = words((await stt.transcribe(long_clip)).text)
    short_wer = 100 * short_edits / len(reference)
    long_wer = 100 * edits(reference, heard_long) / len(reference)
    assert long_wer <= short_wer + MAX_EXTRA_WER_POINTS, (short_wer, long_wer, heard_long)
