"""espeak-ng through ctypes: robotic, but loads in milliseconds and never fails to.

It is the instant fallback when Piper cannot load (a damaged voice package, an
onnxruntime problem): a server that speaks badly beats one that cannot speak.
The library and its data come from the ``espeakng-loader`` wheel, so no system
package is needed. espeak-ng keeps global state in its library, so one lock
serializes every call in the process; a clause takes a few milliseconds.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any, Final

import numpy as np
import soxr

from ...protocol.audio import PCM_RATE, float32_to_pcm16
from ..base import TTS, EngineFailure, close_stream, speakable_voices
from . import assets
from .clauses import split_clauses
from .cpu_gate import CpuGate, rendered_clauses
from .loadable import Loadable
from .voices import VOICES, VoiceStyle, check_speed, voice_style

log = logging.getLogger("rtagents.engines.local")

BASE_WPM: Final = 175  # espeak-ng's default rate = our speed 1.0
_SYNCHRONOUS: Final = 2  # AUDIO_OUTPUT_SYNCHRONOUS: samples go to our callback
_DONT_EXIT: Final = 0x8000  # espeakINITIALIZE_DONT_EXIT: report errors, never exit()
_CHARS_UTF8: Final = 1
_POS_CHARACTER: Final = 1
_RATE, _PITCH = 1, 3  # espeak_PARAMETER values
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

_LOCK = threading.Lock()  # espeak-ng is one global synthesizer per library


class _Espeak:
    """The loaded library, initialized once per process."""

    def __init__(self) -> None:
        library, data = assets.espeak_paths()
        self.lib: Any = ctypes.CDLL(str(library))
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        self.rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, str(data).encode(), _DONT_EXIT)
        if self.rate <= 0:
            raise EngineFailure(
                f"espeak-ng failed to initialize with data at {data}.",
                hint=assets.ESPEAK_LOADER.reinstall_hint(),
            )
        self._chunks: list[np.ndarray[Any, Any]] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, samples: Any, count: int, events: Any) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0  # 0 = keep going

    def speak(self, text: str, style: VoiceStyle, speed: float) -> np.ndarray[Any, Any]:
        """Render ``text`` to int16 samples at :attr:`rate` (call under ``_LOCK``)."""
        voice = f"en-us+{style.espeak_variant}".encode()
        if self.lib.espeak_SetVoiceByName(voice) != 0:
            self.lib.espeak_SetVoiceByName(b"en-us")
        self.lib.espeak_SetParameter(_RATE, max(80, min(450, round(BASE_WPM * speed))), 0)
        self.lib.espeak_SetParameter(_PITCH, style.espeak_pitch, 0)
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        status = self.lib.espeak_Synth(
            data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        if status != 0:
            raise EngineFailure(f"espeak-ng could not speak {text[:40]!r} (status {status}).")
        chunks, self._chunks = self._chunks, []
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


_ENGINE: _Espeak | None = None


class EspeakTTS:
    """Implements the :class:`~rtagents.engines.base.TTS` protocol (pcm16, 24 kHz).

    ``gate``, when given, is the CPU queue it shares with the other local engines
    (:mod:`.cpu_gate`).
    """

    def __init__(self, *, gate: CpuGate | None = None) -> None:
        self._gate = gate

    @property
    def sample_rate(self) -> int:
        return PCM_RATE

    @property
    def voices(self) -> tuple[str, ...]:
        return tuple(VOICES)

    @property
    def loaded(self) -> bool:
        return _ENGINE is not None

    def load(self) -> None:
        """Load and initialize libespeak-ng (a few ms; idempotent, process-wide)."""
        global _ENGINE
        with _LOCK:
            if _ENGINE is None:
                _ENGINE = _Espeak()

    async def warm_up(self) -> None:
        await asyncio.to_thread(self._render, "Ready.", voice_style("alloy"), 1.0)

    async def synthesize(
        self, text: str, *, voice: str, speed: float = 1.0
    ) -> AsyncIterator[bytes]:
        """Yield pcm16 (24 kHz) per clause."""
        style = voice_style(voice)
        check_speed(speed)
        clauses = rendered_clauses(
            self._gate, lambda clause: self._render(clause, style, speed), split_clauses(text)
        )
        async for pcm in clauses:
            yield pcm

    def _render(self, clause: str, style: VoiceStyle, speed: float) -> bytes:
        self.load()
        with _LOCK:
            assert _ENGINE is not None
            samples, rate = _ENGINE.speak(clause, style, speed), _ENGINE.rate
        if not len(samples):
            return b""
        audio = samples.astype(np.float32) / np.float32(32768.0)
        return float32_to_pcm16(soxr.resample(audio, rate, PCM_RATE, quality="HQ"))


class FallbackTTS:
    """``primary`` if it loads, else ``fallback``; the reason is logged and kept.

    The choice is made once, at load time: switching voices mid-session would
    be stranger for a caller than a consistently robotic one.
    """

    def __init__(self, primary: TTS, fallback: TTS) -> None:
        if primary.sample_rate != fallback.sample_rate:
            raise ValueError(
                f"Fallback TTS must share the primary's rate "
                f"({fallback.sample_rate} != {primary.sample_rate})."
            )
        self.primary, self.fallback = primary, fallback
        self.active: TTS | None = None  # decided by load()
        self.reason = ""  # why the fallback is in use ("" while it is not)
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return self.primary.sample_rate

    @property
    def voices(self) -> tuple[str, ...] | None:
        """What both engines speak (None when either cannot say)."""
        first = speakable_voices(self.primary)
        second = speakable_voices(self.fallback)
        if first is None or second is None:
            return None
        return tuple(v for v in first if v in second)

    @property
    def loaded(self) -> bool:
        return self.active is not None

    def load(self) -> None:
        with self._lock:
            if self.active is None:
                self.active = self._choose()

    def _choose(self) -> TTS:
        try:
            if isinstance(self.primary, Loadable):
                self.primary.load()
            return self.primary
        except Exception as exc:  # any load failure: the point is to keep talking
            self.reason = f"{type(exc).__name__}: {exc}"
            hint = getattr(exc, "hint", "")
            log.warning(
                "TTS %s failed to load (%s)%s; falling back to %s",
                type(self.primary).__name__, self.reason,
                f" [hint: {hint}]" if hint else "", type(self.fallback).__name__,
            )  # fmt: skip
            if isinstance(self.fallback, Loadable):
                self.fallback.load()
            return self.fallback

    async def warm_up(self) -> None:
        await asyncio.to_thread(self.load)
        if isinstance(self.active, Loadable):
            await self.active.warm_up()

    async def synthesize(
        self, text: str, *, voice: str, speed: float = 1.0
    ) -> AsyncIterator[bytes]:
        if self.active is None:
            await asyncio.to_thread(self.load)
        assert self.active is not None
        chunks = self.active.synthesize(text, voice=voice, speed=speed)
        try:
            async for chunk in chunks:
                yield chunk
        finally:  # closed with us (a barge-in), not whenever the GC gets to it
            await close_stream(chunks)
