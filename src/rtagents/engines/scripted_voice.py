"""A tone code that stands in for speech, so voice turns run without models.

Every character is one window of ``MS_PER_CHAR`` milliseconds holding a pure
tone whose frequency names the character: character ``k`` of :data:`ALPHABET`
sits exactly on FFT bin ``FIRST_BIN + k`` of its window (400 Hz + 20 Hz * k at
speed 1.0), so one FFT per window recovers it with no guessing. Tiny
raised-cosine edges stop clicks and mark window boundaries, which is how the
decoder finds the character grid again after leading silence of any length or
a resampler's delay. All tones stay below 3.5 kHz, so the code survives a trip
through 8 kHz G.711.

``speed`` works like tape speed: windows get shorter by ``1/speed`` and every
tone rises by ``speed``, so the bins stay aligned. The decoder assumes speed
1.0 unless it is constructed with the speed the audio was made at.
"""

from __future__ import annotations

import asyncio
import functools
import unicodedata
from collections.abc import AsyncGenerator

import numpy as np
import numpy.typing as npt

from ..protocol.audio import PCM_RATE, pcm16_to_float32
from .base import GA_VOICES, STT, TTS, EngineFailure, Transcription, TranscriptionHints
from .scripted_llm import word_pieces

SAMPLE_RATE = PCM_RATE  # the scripted voice speaks and hears the wire rate
MS_PER_CHAR = 50.0
WINDOW = int(SAMPLE_RATE * MS_PER_CHAR / 1000)  # 1200 samples: 20 Hz per FFT bin
ALPHABET = "".join(chr(code) for code in range(32, 127))  # printable ASCII, space first
FIRST_BIN = 20  # 400 Hz at speed 1.0; the last character lands on 2280 Hz
AMPLITUDE = 0.3
UNKNOWN_CHAR = "?"  # spoken for characters outside the alphabet
BAD_WINDOW_CHAR = "\ufffd"  # heard for a window that is not one clean tone
MIN_SPEED, MAX_SPEED = 0.25, 1.5  # the GA range; 1.5 keeps tones under 3.5 kHz

_VOICED_POWER = 0.002  # mean square of a voiced stretch (a tone has 0.045)
_MIN_PURITY = 0.5  # share of a window's power in its strongest bin
_MIN_GOOD_SHARE = 0.75  # below this share of clean windows a stretch is not speech
_CHUNK_CHARS = 40  # longest audio chunk the TTS yields (2 s)
_INDEX = {char: index for index, char in enumerate(ALPHABET)}

Samples = npt.NDArray[np.float64]


def speakable(text: str) -> str:
    """The text the tone code can carry, character for character.

    Whitespace becomes a space, accented letters lose their accents, anything
    else outside printable ASCII becomes ``?``. The length never changes, so
    audio duration follows the text the caller gave.
    """
    return "".join(_speakable_char(char) for char in text)


def _speakable_char(char: str) -> str:
    if char in _INDEX:
        return char
    if char.isspace():
        return " "
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if len(base) == 1 and base in _INDEX else UNKNOWN_CHAR


def window_samples(speed: float = 1.0) -> int:
    """Samples per character at ``speed`` (1200 at 1.0)."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed!r}")
    return round(WINDOW / speed)


@functools.lru_cache(maxsize=8)
def _tone_table(n: int) -> npt.NDArray[np.int16]:
    """One pcm16 window per alphabet character, for windows of ``n`` samples."""
    t = np.arange(n)
    bins = FIRST_BIN + np.arange(len(ALPHABET))
    tones = np.sin(2 * np.pi * np.outer(bins, t) / n)
    ramp = max(2, n // 25)  # 2 ms at speed 1.0
    edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    envelope = np.ones(n)
    envelope[:ramp] = edge
    envelope[n - ramp :] = edge[::-1]
    return np.round(tones * envelope * AMPLITUDE * 32767).astype(np.int16)


def encode_text(text: str, *, speed: float = 1.0) -> bytes:
    """pcm16 (24 kHz, little-endian) for ``text``: one tone window per character."""
    table = _tone_table(window_samples(speed))
    indices = np.fromiter((_INDEX[c] for c in speakable(text)), dtype=np.intp, count=len(text))
    return table[indices].astype("<i2").tobytes()


def scripted_speech(text: str, *, speed: float = 1.0) -> bytes:
    """Audio a client can send as a user saying ``text`` (pcm16, 24 kHz).

    Lasts ``len(text) * MS_PER_CHAR / speed`` ms; :class:`ScriptedSTT` hears it
    back as :func:`speakable` ``(text)``.
    """
    return encode_text(text, speed=speed)


def _speech_chunks(text: str) -> list[str]:
    """Word-sized pieces (whitespace kept), so audio starts before the text ends."""
    words = word_pieces(text)
    return [w[i : i + _CHUNK_CHARS] for w in words for i in range(0, len(w), _CHUNK_CHARS)]


class ScriptedTTS(TTS):
    """Speaks text in the tone code, one chunk per word; ``voice`` changes nothing.

    It answers to the GA voice names only, like the embedded engines, so a test
    sees the refusal of a voice a real engine could not speak.
    """

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def voices(self) -> tuple[str, ...]:
        return GA_VOICES

    async def synthesize(
        self, text: str, *, voice: str, speed: float = 1.0
    ) -> AsyncGenerator[bytes, None]:
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise EngineFailure(
                f"speed {speed!r} is outside {MIN_SPEED}..{MAX_SPEED}",
                hint="set audio.output.speed within the GA range",
            )
        for chunk in _speech_chunks(text):
            yield encode_text(chunk, speed=speed)
            await asyncio.sleep(0)  # let a cancelled response stop between words


class ScriptedSTT(STT):
    """Hears the tone code exactly; anything else is reported, never guessed.

    Silence is skipped. Each voiced stretch (separated by at least a quarter
    window of silence) is aligned and decoded on its own and the stretches are
    joined with a space. A stretch that is not clean tone-coded speech becomes
    ``[unintelligible audio 1.2 s]``; audio with no voiced stretch gives ``""``.
    Audio made at another speed decodes only if ``speed`` says so.
    """

    def __init__(self, *, speed: float = 1.0) -> None:
        self._window = window_samples(speed)

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    async def transcribe(
        self, pcm16: bytes, *, language: str | None = None, hints: TranscriptionHints | None = None
    ) -> Transcription:
        """Decodes the tone code; ``hints`` change nothing (the code has no doubt to bias)."""
        return Transcription(text=decode_audio(pcm16, window=self._window), language=language)


def decode_audio(pcm16: bytes, *, window: int = WINDOW) -> str:
    """The transcript :class:`ScriptedSTT` gives for ``pcm16`` (24 kHz)."""
    usable = len(pcm16) - len(pcm16) % 2
    x = pcm16_to_float32(pcm16[:usable]).astype(np.float64)  # exact: int16 fits float32
    envelope = _envelope(x, max(2, window // 25))
    parts = [
        _decode_stretch(x, envelope, start, end, window) for start, end in _voiced(envelope, window)
    ]
    return " ".join(part for part in parts if part)


def _envelope(x: Samples, width: int) -> Samples:
    """Mean square over ``width`` samples centred on each sample."""
    if len(x) == 0:
        return x
    padded = np.concatenate([np.zeros(width // 2), x * x, np.zeros(width - width // 2)])
    cumulative: Samples = np.concatenate([[0.0], np.cumsum(padded)])
    sums: Samples = cumulative[width : width + len(x)] - cumulative[: len(x)]
    return sums / width


def _voiced(envelope: Samples, window: int) -> list[tuple[int, int]]:
    """[start, end) of voiced stretches; dips between characters do not split them."""
    mask = np.concatenate([[False], envelope > _VOICED_POWER, [False]])
    edges = np.flatnonzero(np.diff(mask.astype(np.int8)))
    runs = list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))
    merged: list[tuple[int, int]] = []
    for start, end in runs:
        if merged and start - merged[-1][1] < window // 4:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [(s, e) for s, e in merged if e - s >= window // 2]  # clicks are not speech


def _decode_stretch(x: Samples, envelope: Samples, start: int, end: int, window: int) -> str:
    count = max(1, round((end - start) / window))
    origin = _align(envelope, start, count, window)
    frames = _frames(x, origin, count, window)
    spectrum = np.abs(np.fft.rfft(frames, axis=1)[:, 1:]) ** 2  # drop DC
    peak = np.argmax(spectrum, axis=1)
    purity = spectrum[np.arange(count), peak] / np.maximum(spectrum.sum(axis=1), 1e-12)
    index = peak + 1 - FIRST_BIN
    good = (purity >= _MIN_PURITY) & (index >= 0) & (index < len(ALPHABET))
    if good.mean() < _MIN_GOOD_SHARE:
        return f"[unintelligible audio {(end - start) / SAMPLE_RATE:.1f} s]"
    return "".join(
        ALPHABET[i] if ok else BAD_WINDOW_CHAR for i, ok in zip(index, good, strict=True)
    )


def _align(envelope: Samples, start: int, count: int, window: int) -> int:
    """Where the first character window begins.

    Character boundaries are the quiet dips left by the raised-cosine edges
    (and the silence around the stretch), so the grid whose ``count + 1``
    boundaries hold the least energy is the right one. The stretch is detected
    a little after its true start, so candidates look mostly backwards.
    """
    candidates = np.arange(start - window // 4, start + window // 8)
    boundaries = candidates[:, None] + window * np.arange(count + 1)[None, :]
    inside = (boundaries >= 0) & (boundaries < len(envelope))
    energy = np.where(inside, envelope[np.clip(boundaries, 0, len(envelope) - 1)], 0.0)
    return int(candidates[np.argmin(energy.sum(axis=1))])


def _frames(x: Samples, origin: int, count: int, window: int) -> Samples:
    """``count`` consecutive windows from ``origin``, zero-padded past either end."""
    positions = origin + np.arange(count * window)
    valid = (positions >= 0) & (positions < len(x))
    flat = np.where(valid, x[np.clip(positions, 0, max(len(x) - 1, 0))], 0.0)
    return flat.reshape(count, window)
