"""Piper TTS with the packaged ``en_US-joe-medium`` voice, streamed clause by clause.

Piper renders 22.05 kHz; the GA wire wants 24 kHz, so each clause is
resampled with libsoxr (which also applies the per-voice pitch offset, see
:mod:`.voices`). Synthesis runs in a worker thread, one clause per hop: the
event loop never blocks, the first clause is heard after ~30-60 ms of compute,
and cancelling the consuming task stops the stream at the next clause (the
clause already in flight finishes in its thread and is dropped).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from ...protocol.audio import PCM_RATE, float32_to_pcm16
from ..base import EngineFailure
from . import assets
from .clauses import split_clauses
from .cpu_gate import CpuGate, rendered_clauses
from .voices import VOICES, VoiceStyle, check_speed, voice_style


class PiperTTS:
    """Implements the :class:`~rtagents.engines.base.TTS` protocol (pcm16, 24 kHz)."""

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        config_path: Path | None = None,
        threads: int = 1,
        variation: float = 1.0,
        gate: CpuGate | None = None,
    ) -> None:
        self._model_path = model_path
        # Piper samples noise for timbre and phoneme lengths; `variation` scales it
        # (0 = the same audio for the same text every time, for tests and demos).
        self._variation = variation
        self._config_path = config_path
        self._threads = threads
        self._gate = gate  # shared with the other local engines (cpu_gate.py)
        self._voice: Any = None  # piper.PiperVoice once loaded
        self._load_lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return PCM_RATE

    @property
    def voices(self) -> tuple[str, ...]:
        return tuple(VOICES)

    @property
    def loaded(self) -> bool:
        return self._voice is not None

    def load(self) -> None:
        """Load the voice (blocking, ~0.2-0.3 s; idempotent, thread-safe)."""
        with self._load_lock:
            if self._voice is None:
                self._voice = self._open()

    async def warm_up(self) -> None:
        """Load and render one word, so the first real reply pays no start-up cost."""
        await asyncio.to_thread(self._warm)

    def _warm(self) -> None:
        self.load()
        self._render("Ready.", voice_style("alloy"), 1.0)

    async def synthesize(
        self, text: str, *, voice: str, speed: float = 1.0
    ) -> AsyncIterator[bytes]:
        """Yield pcm16 (24 kHz) per clause, each as soon as it is rendered."""
        style = voice_style(voice)
        check_speed(speed)
        if self._voice is None:
            await asyncio.to_thread(self.load)
        clauses = rendered_clauses(
            self._gate,
            lambda clause: self._render(clause, style, speed),
            split_clauses(text),
            threads=self._threads,
        )
        async for pcm in clauses:
            yield pcm

    def _render(self, clause: str, style: VoiceStyle, speed: float) -> bytes:
        from piper import SynthesisConfig

        voice = self._voice
        # length_scale is the inverse of speed; the pitch trick renders `pitch`
        # times longer and the resampler below plays it `pitch` times faster.
        length = voice.config.length_scale * style.pitch / speed
        config = SynthesisConfig(
            length_scale=length,
            noise_scale=voice.config.noise_scale * self._variation,
            noise_w_scale=voice.config.noise_w_scale * self._variation,
            normalize_audio=False,
        )
        try:
            chunks = [chunk.audio_float_array for chunk in voice.synthesize(clause, config)]
        except Exception as exc:  # onnxruntime / espeak errors carry no common type
            raise EngineFailure(f"Piper failed on {clause[:40]!r}: {exc}") from exc
        if not chunks:
            return b""
        audio = np.concatenate(chunks)
        source_rate = voice.config.sample_rate * style.pitch
        return float32_to_pcm16(soxr.resample(audio, source_rate, PCM_RATE, quality="HQ"))

    def _open(self) -> Any:
        assets.require("piper", "piper-tts", what="Piper TTS")
        assets.require("onnxruntime", "onnxruntime", what="Piper TTS")
        if self._model_path is None:
            model_path, config_path = assets.piper_voice_files()
        else:
            model_path = self._model_path
            config_path = self._config_path or Path(f"{model_path}.json")
        import onnxruntime as ort
        from piper import PiperConfig, PiperVoice

        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        # Idle worker threads must not spin: the STT needs those cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
            session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # OSError, JSON, KeyError or onnxruntime's own
            raise EngineFailure(
                f"Could not load the Piper voice {model_path.name}: {exc}",
                hint=assets.PIPER_VOICE.reinstall_hint(),
            ) from exc
        return PiperVoice(session=session, config=config)
