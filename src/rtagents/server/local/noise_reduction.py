"""``audio.input.noise_reduction``: spectral gating of the input before VAD and STT.

noisereduce's stationary spectral gate (``SpectralGateStationary``) is built
for whole recordings; here it runs on a stream. Each chunk is gated together
with the audio just before it (:attr:`Tuning.context_ms`, so the STFT frames
that cover the chunk are whole) and only the chunk's samples are kept; no
delay is added, so audio time, VAD timestamps and the buffer stay exact.

The gate needs the noise's spectrum. A caller's noise is not known ahead, so
it is estimated as it goes, by minimum statistics: of the recent audio
(:attr:`Tuning.memory_s`), the quietest stretches (:attr:`Tuning.quiet_share`;
each two STFT windows long, so the noise spectrum is measured inside them,
not across their joins) are taken as noise, and the gate is rebuilt from them every
:attr:`Tuning.refresh_ms` of audio. Speech is louder than the pauses between
words, so the quietest frames are noise even while someone talks. Until
:data:`WARMUP_MS` of audio has come, audio passes unchanged.

The two GA settings are tuned apart (figures in docs/benchmarks.md,
``bench/noise_reduction.py``):

- ``near_field`` (a headset or phone held close): speech is well above the
  noise, so the gate is strict about what counts as speech (1.5 standard
  deviations above the noise), uses short frames (21 ms at 24 kHz) that follow
  speech closely, and remembers 3 s of noise.
- ``far_field`` (a laptop or room microphone): speech arrives weaker and
  smeared by the room, so the threshold is lower (1.0 std: keep more of the
  weak speech), frames are longer (43 ms: finer frequency bins to pick
  harmonics out of the noise), the mask is smoothed over more time (100 ms)
  against "musical" noise in reverberant tails, and the noise estimate
  remembers 6 s.

Both leave part of what they gate (15 % near, 20 % far) and smooth the mask
over 150 Hz only: removing gated bins entirely, or smoothing over noisereduce's
default 500 Hz (which blurs a voice's harmonics into the gaps between them),
made Whisper's word error rate worse on the bench's noisy speech, not better.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np

from ...protocol.audio import PCM_RATE

Kind = Literal["near_field", "far_field"]
WARMUP_MS: Final = 200  # audio before the first noise estimate: passed through


@dataclass(frozen=True, slots=True)
class Tuning:
    """One setting's spectral-gate parameters (see the module docstring for why)."""

    n_fft: int
    threshold_std: float  # noisereduce's n_std_thresh_stationary
    prop_decrease: float  # 1.0 removes the gated bins entirely
    freq_smooth_hz: int
    time_smooth_ms: int
    context_ms: int  # audio before a chunk gated with it
    memory_s: float  # how far back the noise estimate looks
    quiet_share: float = 0.2  # of that audio, the quietest frames taken as noise
    refresh_ms: int = 500


TUNINGS: Final[dict[Kind, Tuning]] = {
    "near_field": Tuning(
        n_fft=512,
        threshold_std=1.5,
        prop_decrease=0.85,
        freq_smooth_hz=150,
        time_smooth_ms=50,
        context_ms=60,
        memory_s=3.0,
    ),
    "far_field": Tuning(
        n_fft=1024,
        threshold_std=1.0,
        prop_decrease=0.8,
        freq_smooth_hz=150,
        time_smooth_ms=100,
        context_ms=120,
        memory_s=6.0,
    ),
}


class _Library:
    """noisereduce, imported on a worker thread the first time a session asks for it.

    Importing it pulls in scipy.signal: seconds on a loaded machine, which
    must not stall the event loop every session shares. Until it is ready,
    audio passes unchanged (as during a denoiser's own warm-up).
    """

    def __init__(self) -> None:
        self.gate_class: Any = None
        self._started = False
        self._lock = threading.Lock()

    def request(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._load, name="noisereduce-import", daemon=True).start()

    def load_now(self) -> None:
        """Import on this thread (a bench or a test that wants it ready)."""
        self._started = True
        self._load()

    def _load(self) -> None:
        from noisereduce.spectralgate.stationary import (  # type: ignore[import-untyped]
            SpectralGateStationary,
        )

        self.gate_class = SpectralGateStationary


LIBRARY: Final = _Library()


def noise_kind(setting: Any) -> Kind | None:
    """The setting's type, from a session's ``audio.input.noise_reduction`` (None: off)."""
    kind = setting.get("type") if isinstance(setting, Mapping) else None
    return kind if kind in TUNINGS else None


class StreamingDenoiser:
    """Gates one session's input stream, chunk by chunk (pcm16 at ``rate``)."""

    def __init__(self, kind: Kind, rate: int = PCM_RATE) -> None:
        self.kind = kind
        self.tuning = TUNINGS[kind]
        self.rate = rate
        self._frame = 2 * self.tuning.n_fft  # the noise estimate's unit: two STFT windows
        self._context = np.zeros(0, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)  # under one frame, for the estimate
        frames = int(self.tuning.memory_s * rate) // self._frame
        self._recent: deque[tuple[float, np.ndarray[Any, Any]]] = deque(maxlen=frames)
        self._since_refresh = 0
        self._seen = 0
        self._gate: Any = None
        self._noise_frames = 2  # at least this many quiet stretches make a noise spectrum
        LIBRARY.request()

    def process(self, pcm16: bytes) -> bytes:
        """``pcm16`` with the noise gated out (the same length; unchanged while warming up)."""
        x = np.frombuffer(pcm16[: len(pcm16) // 2 * 2], dtype="<i2").astype(np.float32) / 32768
        if not len(x):
            return pcm16
        self._learn(x)
        out = x if self._gate is None else self._gated(x)
        keep = self.rate * self.tuning.context_ms // 1000
        self._context = np.concatenate([self._context, x])[-keep:]
        return (np.clip(out, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()

    def _gated(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        # The gate's STFT keeps whole hops only, so a window of zeros after the
        # chunk makes its last samples count (their frames see no future: none came yet).
        tail = np.zeros(self.tuning.n_fft, dtype=np.float32)
        block = np.concatenate([self._context, x, tail])
        out = self._gate.spectral_gating_stationary(block[np.newaxis, :])[0]
        start = len(self._context)
        return np.asarray(out[start : start + len(x)], dtype=np.float32)

    def _learn(self, x: np.ndarray[Any, Any]) -> None:
        """Note the new frames' loudness; rebuild the gate when it is time."""
        samples = np.concatenate([self._pending, x])
        whole = len(samples) // self._frame * self._frame
        for start in range(0, whole, self._frame):
            frame = samples[start : start + self._frame]
            self._recent.append((float(np.mean(frame * frame)), frame.copy()))
        self._pending = samples[whole:]
        self._seen += len(x)
        self._since_refresh += len(x)
        warm = self._seen * 1000 >= WARMUP_MS * self.rate and LIBRARY.gate_class is not None
        due = self._since_refresh * 1000 >= self.tuning.refresh_ms * self.rate
        if warm and len(self._recent) >= self._noise_frames and (self._gate is None or due):
            self._since_refresh = 0
            self._gate = self._build_gate()

    def _build_gate(self) -> Any:
        quiet = sorted(self._recent, key=lambda item: item[0])
        count = max(self._noise_frames, int(len(quiet) * self.tuning.quiet_share))
        noise = np.concatenate([frame for _, frame in quiet[:count]])
        t = self.tuning
        return LIBRARY.gate_class(
            y=noise,
            sr=self.rate,
            y_noise=noise,
            n_std_thresh_stationary=t.threshold_std,
            chunk_size=len(noise),
            clip_noise_stationary=False,
            padding=0,
            n_fft=t.n_fft,
            win_length=None,
            hop_length=None,
            time_constant_s=2.0,
            freq_mask_smooth_hz=t.freq_smooth_hz,
            time_mask_smooth_ms=t.time_smooth_ms,
            tmp_folder=None,
            prop_decrease=t.prop_decrease,
            use_tqdm=False,
            n_jobs=1,
        )
