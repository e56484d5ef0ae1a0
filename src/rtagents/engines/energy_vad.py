"""A loudness VAD: speech is whatever is loud enough, scored as a probability.

It exists for the scripted engine set, whose "speech" is a steady tone code
(see :mod:`.scripted_voice`) surrounded by digital silence: there a model VAD
would be slow to load and would judge tones by how much they sound like a
voice, while loudness separates them exactly. It is also a usable fallback
for clean close-talk audio, but it cannot tell speech from noise.

The RMS level of each window, in dBFS, is mapped linearly onto 0..1 between
``floor_db`` (0.0) and ``ceiling_db`` (1.0), so the session's ``threshold``
keeps its meaning: 0.5 means "at least halfway between the floor and the
ceiling" (-40 dBFS with the defaults). The tone code sits at about -13.5
dBFS (probability 1.0) and digital silence at 0.0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat

import numpy as np

from ..protocol.audio import PCM_RATE
from .base import VAD, SpeechProbability

# The server's internal rate: loudness needs no particular rate, so the server feeds
# this VAD its stream as it is. A model VAD (Silero: 16 kHz) gets its own rate through a
# resampler, which cost 10 % of a loaded bench server's CPU (docs/benchmarks.md).
DEFAULT_RATE = PCM_RATE
DEFAULT_WINDOW_MS = 10
_TINY = 1e-12  # keeps log10 finite on digital silence


class EnergyVAD(VAD):
    """Scores fixed windows of ``window_ms`` by their RMS level.

    Windows are laid back to back from the last :meth:`reset`; samples that do
    not fill a window wait for the next call, so timestamps never drift with
    the size of the chunks the caller feeds.
    """

    def __init__(
        self,
        *,
        sample_rate: int = DEFAULT_RATE,
        window_ms: int = DEFAULT_WINDOW_MS,
        floor_db: float = -60.0,
        ceiling_db: float = -20.0,
    ) -> None:
        if sample_rate <= 0 or window_ms <= 0:
            raise ValueError(
                f"sample_rate and window_ms must be positive ({sample_rate}, {window_ms})"
            )
        if not floor_db < ceiling_db <= 0:
            raise ValueError(f"need floor_db < ceiling_db <= 0 dBFS, got {floor_db}, {ceiling_db}")
        window = sample_rate * window_ms / 1000
        if window != int(window):
            raise ValueError(f"{window_ms} ms is not a whole number of samples at {sample_rate} Hz")
        self._rate = sample_rate
        self._window = int(window)
        self._floor = floor_db
        self._span = ceiling_db - floor_db
        # A window's summed squared samples -> its mean power relative to full scale.
        self._per_energy = 1.0 / (self._window * 32768.0 * 32768.0)
        # Energies at or below the floor score 0, at or above the ceiling 1 (the tiny
        # term below moves the level by far less than a window's rounding).
        self._silent_energy = 10.0 ** (floor_db / 10.0) / self._per_energy
        self._loud_energy = 10.0 ** (ceiling_db / 10.0) / self._per_energy
        self._pending = b""
        self._windows_done = 0

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def window_ms(self) -> float:
        return self._window * 1000 / self._rate

    def score(self, pcm16: bytes) -> Sequence[SpeechProbability]:
        data = self._pending + pcm16 if self._pending else pcm16
        width = self._window * 2
        count = len(data) // width
        self._pending = data[count * width :]
        if count == 0:
            return []
        # Exact integer energies in one numpy call, then plain floats: for the
        # handful of windows in one chunk, per-window math beats more numpy calls
        # (this runs for every append of every session).
        samples = np.frombuffer(data, dtype="<i2", count=count * self._window)
        frames = samples.reshape(count, self._window).astype(np.int64)
        energies = np.einsum("ij,ij->i", frames, frames).tolist()
        first = self._windows_done
        self._windows_done += count
        step = self.window_ms
        bounds = [(first + i) * step for i in range(count + 1)]
        return list(
            map(
                SpeechProbability._make,
                zip(bounds, bounds[1:], map(self._probability, energies), repeat(None)),
            )
        )

    def _probability(self, energy: int) -> float:
        # Silence and the loud tone code, most windows, need no logarithm.
        if energy <= self._silent_energy:
            return 0.0
        if energy >= self._loud_energy:
            return 1.0
        level_db = 10.0 * math.log10(energy * self._per_energy + _TINY)
        return min(1.0, max(0.0, (level_db - self._floor) / self._span))

    def reset(self) -> None:
        self._pending = b""
        self._windows_done = 0
