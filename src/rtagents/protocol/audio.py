"""Audio formats of the wire, G.711 codecs, resampling and base64 helpers.

The GA protocol carries audio as base64 in JSON, in one of three formats:
PCM16 at 24 kHz, or 8 kHz G.711 mu-law / A-law. Both sides need the same
arithmetic (durations for truncation, conversions at the edges), so it lives
here, sans I/O. Every codec is a numpy table lookup: a per-sample Python loop
over a second of 24 kHz audio would cost milliseconds on every chunk.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import pybase64
import soxr

from .errors import RemoteProtocolError

if TYPE_CHECKING:
    from pydantic import BaseModel

Encoding = Literal["pcm16", "pcmu", "pcma"]

_WIRE_TYPES: Final[dict[str, Encoding]] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "pcmu",
    "audio/pcma": "pcma",
}
_ENCODING_TYPES: Final[dict[Encoding, str]] = {v: k for k, v in _WIRE_TYPES.items()}
_G711_RATE: Final = 8000
# The one rate of GA pcm16 audio, on the wire and in every engine of this package.
PCM_RATE: Final = 24_000


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """One wire audio format: its encoding and sample rate."""

    encoding: Encoding
    sample_rate: int

    def __post_init__(self) -> None:
        if self.encoding not in get_args(Encoding):
            raise ValueError(f"Unknown audio encoding {self.encoding!r}; use pcm16, pcmu or pcma.")
        if self.sample_rate <= 0:
            raise ValueError(f"Sample rate must be positive, got {self.sample_rate}.")

    @classmethod
    def from_wire(cls, fmt: BaseModel | Mapping[str, Any] | None) -> AudioFormat:
        """The format of a wire ``format`` object (a model or a dict); ``None`` is PCM16 24 kHz.

        Raises :class:`RemoteProtocolError` naming ``format.type``/``format.rate``
        for a shape the protocol does not have.
        """
        if fmt is None:
            return PCM16_24K
        if isinstance(fmt, Mapping):
            wire_type, rate = fmt.get("type"), fmt.get("rate")
        else:
            wire_type, rate = getattr(fmt, "type", None), getattr(fmt, "rate", None)
        wire_type = "audio/pcm" if wire_type is None else wire_type
        encoding = _WIRE_TYPES.get(wire_type) if isinstance(wire_type, str) else None
        if encoding is None:
            raise RemoteProtocolError(
                f"Unknown audio format type {wire_type!r}; use one of "
                + ", ".join(repr(t) for t in _WIRE_TYPES),
                code="invalid_value",
                param="format.type",
            )
        if encoding != "pcm16":
            return PCMU if encoding == "pcmu" else PCMA
        if rate is None:
            return PCM16_24K
        if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
            raise RemoteProtocolError(
                f"Invalid audio rate {rate!r}; GA PCM audio is 24000 Hz.",
                code="invalid_value",
                param="format.rate",
            )
        return cls("pcm16", rate)

    def to_wire(self) -> dict[str, Any]:
        """The wire ``format`` object: ``{"type": "audio/pcm", "rate": 24000}`` etc."""
        wire: dict[str, Any] = {"type": _ENCODING_TYPES[self.encoding]}
        if self.encoding == "pcm16":
            wire["rate"] = self.sample_rate
        return wire

    @property
    def sample_width(self) -> int:
        """Bytes per sample: 2 for PCM16, 1 for G.711."""
        return 2 if self.encoding == "pcm16" else 1

    @property
    def bytes_per_second(self) -> int:
        return self.sample_width * self.sample_rate

    def duration_ms(self, nbytes: int) -> float:
        """Milliseconds of audio in ``nbytes`` bytes of this format."""
        return nbytes * 1000.0 / self.bytes_per_second

    def bytes_for_ms(self, ms: float) -> int:
        """Bytes holding the whole samples that fit in ``ms`` milliseconds."""
        if ms < 0 or math.isnan(ms):
            raise ValueError(f"A duration must be >= 0 ms, got {ms}.")
        # The epsilon absorbs float error so bytes_for_ms(duration_ms(n)) == n.
        samples = math.floor(ms * self.sample_rate / 1000.0 + 1e-6)
        return samples * self.sample_width


PCM16_24K: Final = AudioFormat("pcm16", PCM_RATE)
PCMU: Final = AudioFormat("pcmu", _G711_RATE)
PCMA: Final = AudioFormat("pcma", _G711_RATE)

Int16Array = npt.NDArray[np.int16]
_PCM_DTYPE: Final = np.dtype("<i2")


def _samples(pcm16: bytes) -> Int16Array:
    if len(pcm16) % 2:
        raise ValueError(
            f"PCM16 audio must hold whole 2-byte samples; got {len(pcm16)} bytes "
            "(an odd length means a chunk was split mid-sample)."
        )
    return np.frombuffer(pcm16, dtype=_PCM_DTYPE)


def _pcm_bytes(samples: npt.NDArray[Any]) -> bytes:
    return samples.astype(_PCM_DTYPE, copy=False).tobytes()


# --- G.711 (ITU-T G.711), built once with vectorised arithmetic -----------------

_MULAW_BIAS: Final = 0x21  # in the 14-bit domain G.711 mu-law is defined on
_MULAW_CLIP: Final = 8159
_MULAW_SEGMENT_STARTS: Final = np.array([0x40, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000])
_ALAW_SEGMENT_STARTS: Final = np.array([0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800, 0x1000])


def _build_mulaw_tables() -> tuple[npt.NDArray[np.uint8], Int16Array]:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    pcm = linear >> 2  # 14 significant bits
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _MULAW_CLIP) + _MULAW_BIAS
    segment = np.searchsorted(_MULAW_SEGMENT_STARTS, magnitude, "right")
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    encode = np.empty(65536, dtype=np.uint8)
    encode[linear.astype(np.int16).view(np.uint16)] = (code ^ mask) & 0xFF
    byte = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (byte >> 4) & 0x07
    value = ((((byte & 0x0F) << 3) + 0x84) << exponent) - 0x84
    decode = np.where(byte & 0x80, -value, value).astype(np.int16)
    return encode, decode


def _build_alaw_tables() -> tuple[npt.NDArray[np.uint8], Int16Array]:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    pcm = linear >> 3  # A-law works on 13 significant bits
    negative = pcm < 0
    mask = np.where(negative, 0x55, 0xD5)
    pcm = np.where(negative, -pcm - 1, pcm)
    segment = np.searchsorted(_ALAW_SEGMENT_STARTS, pcm, "right")
    shift = np.maximum(segment, 1)
    code = (np.minimum(segment, 7) << 4) | ((pcm >> shift) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    encode = np.empty(65536, dtype=np.uint8)
    encode[linear.astype(np.int16).view(np.uint16)] = (code ^ mask) & 0xFF
    byte = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (byte & 0x70) >> 4
    base = ((byte & 0x0F) << 4) + np.where(seg == 0, 8, 0x108)
    value = np.where(seg > 1, base << np.maximum(seg - 1, 0), base)
    decode = np.where(byte & 0x80, value, -value).astype(np.int16)
    return encode, decode


_MULAW_ENCODE, _MULAW_DECODE = _build_mulaw_tables()
_ALAW_ENCODE, _ALAW_DECODE = _build_alaw_tables()


def mulaw_encode(pcm16: bytes) -> bytes:
    """PCM16 little-endian -> G.711 mu-law, one byte per sample."""
    return _MULAW_ENCODE[_samples(pcm16).view(np.uint16)].tobytes()


def mulaw_decode(data: bytes) -> bytes:
    """G.711 mu-law -> PCM16 little-endian."""
    return _pcm_bytes(_MULAW_DECODE[np.frombuffer(data, dtype=np.uint8)])


def alaw_encode(pcm16: bytes) -> bytes:
    """PCM16 little-endian -> G.711 A-law, one byte per sample."""
    return _ALAW_ENCODE[_samples(pcm16).view(np.uint16)].tobytes()


def alaw_decode(data: bytes) -> bytes:
    """G.711 A-law -> PCM16 little-endian."""
    return _pcm_bytes(_ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)])


# --- resampling ----------------------------------------------------------------


def resample_pcm16(pcm16: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Resample one whole PCM16 mono clip with libsoxr (band-limited, HQ).

    Stateless: right for a complete clip (a committed utterance, a synthesized
    sentence). Audio that arrives in pieces must go through
    :class:`rtagents.protocol.resample.StreamResampler`, which keeps the filter
    state across chunks so their edges do not click. The output always holds
    ``round(n * dst / src)`` samples (at least one), so durations add up exactly.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"Sample rates must be positive, got {src_rate} -> {dst_rate}.")
    samples = _samples(pcm16)
    if src_rate == dst_rate or not len(samples):
        return bytes(pcm16)
    out = soxr.resample(samples, src_rate, dst_rate, quality="HQ")
    want = max(1, round(len(samples) * dst_rate / src_rate))
    if len(out) < want:  # soxr may drop a partial sample at the very end of tiny clips
        out = np.concatenate([out, np.zeros(want - len(out), dtype=out.dtype)])
    return _pcm_bytes(out[:want])


def pcm16_to_wire(pcm16: bytes, rate: int, fmt: AudioFormat) -> bytes:
    """PCM16 at ``rate`` -> bytes in wire format ``fmt`` (resampled, G.711-encoded)."""
    pcm = resample_pcm16(pcm16, rate, fmt.sample_rate)
    if fmt.encoding == "pcmu":
        return mulaw_encode(pcm)
    if fmt.encoding == "pcma":
        return alaw_encode(pcm)
    return pcm


def wire_to_pcm16(data: bytes, fmt: AudioFormat, rate: int) -> bytes:
    """Bytes in wire format ``fmt`` -> PCM16 at ``rate``."""
    if fmt.encoding == "pcmu":
        pcm = mulaw_decode(data)
    elif fmt.encoding == "pcma":
        pcm = alaw_decode(data)
    else:
        pcm = data
    return resample_pcm16(pcm, fmt.sample_rate, rate)


def pcm16_to_float32(pcm16: bytes) -> npt.NDArray[np.float32]:
    """PCM16 -> float32 samples in [-1, 1) (the scale engines expect)."""
    return _samples(pcm16).astype(np.float32) / np.float32(32768.0)


def float32_to_pcm16(samples: npt.NDArray[Any]) -> bytes:
    """Float samples in [-1, 1] -> PCM16 (clipped, rounded); exact inverse of the above."""
    scaled = np.rint(np.asarray(samples, dtype=np.float64) * 32768.0)
    return _pcm_bytes(np.clip(scaled, -32768, 32767))


# --- base64 --------------------------------------------------------------------


def b64encode_audio(data: bytes) -> str:
    """Audio bytes -> the base64 text of an ``audio``/``delta`` field."""
    return pybase64.b64encode_as_string(data)


def b64decode_audio(text: str, *, param: str = "audio") -> bytes:
    """Base64 text of a wire field -> bytes; a clear error names ``param`` if it is not base64.

    pybase64 (SIMD) decodes a valid payload about 18 times faster than
    ``binascii``: this runs on every append. What it refuses goes to
    ``binascii``'s strict mode, which decides (pybase64 also refuses a few
    paddings strict mode accepts, such as ``"QUAZ="``) and words the error.
    """
    try:
        return pybase64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error is one; so is a str that is not ASCII
        pass
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise RemoteProtocolError(
            f"'{param}' is not valid base64 ({exc}). Send the raw audio bytes encoded as "
            "standard base64 (RFC 4648 alphabet, '=' padding, no whitespace).",
            code="invalid_value",
            param=param,
        ) from None


def b64_decoded_length(text: str) -> int:
    """Bytes that ``text`` decodes to, computed without decoding (for durations)."""
    size = len(text)
    padding = 0
    if size and text[-1] == "=":
        padding = 2 if size > 1 and text[-2] == "=" else 1
    return max(0, (size * 3) // 4 - padding)  # a lone "=" is no bytes, not -1
