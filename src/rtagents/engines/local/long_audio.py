"""Where to cut audio longer than Whisper's 30 s window: at its quietest moments.

faster-whisper's own long-audio loop (a 30 s sliding window behind its VAD
filter) lost most of a long turn's words: 120 s of continuous Piper speech
came back with a quarter of its words missing, silently. Whisper hears up to
30 s at once, and stops early on long windows now and then, so
:class:`~.whisper_stt.WhisperSTT` cuts a long clip itself into pieces of at
most :data:`MAX_PIECE_S` (12 s) and transcribes them in order,
each with the text before it as context. Each cut lies at the quietest
stretch of the last :data:`SEARCH_S` of a piece (a pause between phrases,
where no word is split), and the pieces do not overlap, so every sample is
heard exactly once and no word is heard twice.

Quietness is short-time energy smoothed over :data:`QUIET_S`: a pause
between phrases is the lowest stretch even under steady background noise,
and it costs nothing next to the transcription itself.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

# The longest piece. Whisper base decoding without timestamps sometimes stops
# early on a long window: a 16.6 s piece lost its last four words, which the
# same audio cut at 12 s kept (bench/wer.py and docs/benchmarks.md measure it).
MAX_PIECE_S: Final = 12.0
SEARCH_S: Final = 5.0  # a cut is sought within this much before the piece's end
QUIET_S: Final = 0.2  # energy is averaged over this long: a pause, not a gap in a word
_FRAME_S: Final = 0.01


def cut_points(audio: np.ndarray[Any, Any], rate: int) -> list[int]:
    """Sample offsets where ``audio`` is cut into pieces of at most :data:`MAX_PIECE_S`.

    Empty for audio that fits in one piece; each piece but the last is at
    least ``MAX_PIECE_S - SEARCH_S`` long.
    """
    frame = max(1, int(rate * _FRAME_S))
    frames = len(audio) // frame
    if len(audio) <= MAX_PIECE_S * rate:
        return []
    energy = np.square(audio[: frames * frame].astype(np.float64)).reshape(frames, frame).mean(1)
    width = max(1, round(QUIET_S / _FRAME_S))
    smooth = np.convolve(energy, np.ones(width) / width, mode="same")
    longest, search = round(MAX_PIECE_S / _FRAME_S), round(SEARCH_S / _FRAME_S)
    cuts: list[int] = []
    start = 0  # in frames
    while (len(audio) - start * frame) > MAX_PIECE_S * rate:
        low, high = start + longest - search, min(start + longest, frames)
        quietest = low + int(np.argmin(smooth[low:high]))
        cuts.append(quietest * frame)
        start = quietest
    return cuts


def pieces(audio: np.ndarray[Any, Any], rate: int) -> list[np.ndarray[Any, Any]]:
    """``audio`` cut at :func:`cut_points`: consecutive, non-overlapping, all of it."""
    edges = [0, *cut_points(audio, rate), len(audio)]
    return [audio[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def voiced_pieces(audio: np.ndarray[Any, Any], rate: int) -> list[np.ndarray[Any, Any]]:
    """The :func:`pieces` in which Silero hears any speech at all.

    Given the words before it as context, Whisper "continues" a silent or
    noise-only piece with made-up sentences (31 s of silence after a question
    came back as 87 invented words), and its no-speech guard does not catch
    them. Silero (the model faster-whisper ships, 16 kHz) decides instead;
    a piece with even a short voiced stretch is kept whole, so no word is lost.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=100), rate)
    edges = [0, *cut_points(audio, rate), len(audio)]
    return [
        audio[a:b]
        for a, b in zip(edges, edges[1:], strict=False)
        if any(span["start"] < b and span["end"] > a for span in spans)
    ]
