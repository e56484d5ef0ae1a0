"""Streaming PCM16 resampling for audio that arrives in chunks.

Resampling each appended chunk on its own restarts the anti-aliasing filter at
every boundary, which leaves a small step (an audible click, and a spurious
onset for a VAD). :class:`StreamResampler` keeps libsoxr's filter state between
calls instead, so chunk after chunk comes out as one continuous signal.

libsoxr holds back a few milliseconds of filter delay: a call may return fewer
samples than its input implies (even none), and :meth:`StreamResampler.flush`
returns what is left at the end of the stream. The totals always add up to
``round(n * dst / src)`` samples.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

_PCM_DTYPE: Final = np.dtype("<i2")


class StreamResampler:
    """Resamples one continuous PCM16 mono stream, chunk by chunk.

    Not thread-safe (one stream, one owner). After :meth:`flush` the object
    starts a new stream, so one instance can serve utterance after utterance.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError(f"Sample rates must be positive, got {src_rate} -> {dst_rate}.")
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._odd = b""  # half a sample left over from a chunk split mid-sample
        self._stream: soxr.ResampleStream | None = None

    @property
    def passthrough(self) -> bool:
        return self.src_rate == self.dst_rate

    def process(self, pcm16: bytes) -> bytes:
        """Resample the next chunk; returns the output that is ready so far."""
        if self.passthrough and not self._odd and not len(pcm16) % 2:
            return pcm16  # the common case of a rate-agnostic consumer: no copies
        data = self._odd + pcm16
        whole = len(data) - len(data) % 2
        self._odd = data[whole:]
        if self.passthrough:
            return data[:whole]
        if not whole:
            return b""
        samples = np.frombuffer(data, dtype=_PCM_DTYPE, count=whole // 2)
        return _to_bytes(self._resampler().resample_chunk(samples, last=False))

    def flush(self) -> bytes:
        """End the stream: return the samples held back by the filter, then reset."""
        self._odd = b""  # a dangling half sample cannot be played; drop it
        stream, self._stream = self._stream, None
        if stream is None:
            return b""
        return _to_bytes(stream.resample_chunk(np.zeros(0, dtype=_PCM_DTYPE), last=True))

    def reset(self) -> None:
        """Forget the current stream without producing its tail (e.g. a cleared buffer)."""
        self._odd = b""
        self._stream = None

    def _resampler(self) -> soxr.ResampleStream:
        if self._stream is None:
            self._stream = soxr.ResampleStream(
                self.src_rate, self.dst_rate, 1, dtype="int16", quality="HQ"
            )
        return self._stream


def _to_bytes(samples: npt.NDArray[np.int16]) -> bytes:
    return samples.astype(_PCM_DTYPE, copy=False).tobytes()
