"""A clip's loudness contour: what stays the same when another CPU renders the same speech.

Piper renders a text to the same samples on one machine every time, but not on
every machine: onnxruntime picks its kernels by the CPU's instruction set
(AVX-512 or AVX2), each rounds floats its own way, and the samples and their
sha256 differ while the speech is the same. Measured: on a 2-vCPU AMD EPYC
without AVX-512, every Piper clip of both committed sets
(``bench/pause_manifest.json``, ``bench/wer_manifest.json``, written on an Intel
Xeon) had the Xeon's number of samples and pause position to the sample, but
another sha256, so both benches refused to run there.

So a committed clip is held to what survives that: the exact number of
samples, and its loudness every :data:`FRAME_MS` in whole dB (:func:`contour`),
within :data:`MEAN_DB` on average and :data:`MAX_DB` in any frame
(:func:`same_contour`). A different text, voice or speed changes the length
or moves the contour by far more (``tests/bench/test_clip_contour.py``).
"""

from __future__ import annotations

import numpy as np

FRAME_MS = 100
FLOOR_DB = -60  # quieter frames count as this: rounding noise in near-silence is not speech
MEAN_DB = 0.5  # mean |difference| over the frames
MAX_DB = 3  # in any one frame


def contour(pcm16: bytes, rate: int) -> list[int]:
    """RMS level of each ``FRAME_MS`` of ``pcm16`` (the last may be shorter), whole dBFS."""
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64) / 32768.0
    size = rate * FRAME_MS // 1000
    levels = []
    for start in range(0, len(samples), size):
        frame = samples[start : start + size]
        rms = float(np.sqrt(np.mean(frame**2)))
        levels.append(round(max(FLOOR_DB, 20 * np.log10(max(rms, 1e-12)))))
    return levels


def as_text(levels: list[int]) -> str:
    """A contour as the manifests keep it: one line, levels apart by spaces."""
    return " ".join(map(str, levels))


def same_contour(made: list[int], committed: str) -> bool:
    """Whether ``made`` and a manifest's contour are one speech rendered twice
    (see the module's tolerance)."""
    committed_levels = [int(level) for level in committed.split()]
    if len(made) != len(committed_levels):
        return False
    if not made:
        return True
    gaps = np.abs(np.asarray(made) - np.asarray(committed_levels))
    return float(gaps.mean()) <= MEAN_DB and int(gaps.max()) <= MAX_DB
