"""Whisper base (CTranslate2, int8) speech-to-text, sized for short voice turns.

Whisper was trained on 30 s windows and faster-whisper always pads the log-mel
features to 3000 frames, so a 1 s "yes" costs the encoder as much as 30 s of
speech (~0.45 s on 2 cores). The server transcribes partial audio while the
user speaks and again at the end of the turn, so that cost is paid many times.
CTranslate2 accepts a shorter encoder input, so for clips up to 12 s we call it
directly with the smallest window from :data:`WINDOWS_S` that holds the clip
plus a margin: ~0.1-0.2 s per call for 1-5 s utterances, with the same words on
our test sentences (figures and method in docs/engines.md). Audio longer than
12 s is cut at pauses into pieces of at most 12 s, transcribed in order (see
:mod:`.long_audio`; word error rates in docs/benchmarks.md, bench/wer.py).

Calls run on a small private thread pool (``workers`` threads, each running
CTranslate2 with ``cpu_threads`` threads), so the event loop never blocks and
concurrent sessions queue instead of oversubscribing the CPU. A call that is
cancelled before its turn is dropped from the queue; one cancelled while it
runs stops at the next step boundary (before the encoder, before decoding,
between the pieces of a long clip), so a transcription nobody waits for any more
(a pause's speculative one, once speech resumes) gives its thread back early
instead of decoding for nobody. Given a ``gate``
(:mod:`.cpu_gate`), calls queue there first, with the TTS's: the call nearest
to a caller hearing audio goes first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

import numpy as np

from ...protocol.audio import pcm16_to_float32
from ..base import EngineFailure, TokenLogprob, Transcription, TranscriptionHints
from . import assets, long_audio
from .cpu_gate import CpuGate
from .whisper_hints import pick_language, prompt_tokens, token_logprobs

SAMPLE_RATE: Final = 16_000
WINDOWS_S: Final = (10, 20, 30)  # encoder windows tried in order (seconds)
WINDOW_MARGIN_S: Final = 0.5  # room after the speech so the decoder sees it end
_FRAMES_PER_S: Final = 100  # log-mel hop is 10 ms
_NO_SPEECH_PROB: Final = 0.6  # faster-whisper's thresholds for "this was not speech"
_LOW_LOGPROB: Final = -1.0
_TOKENS_PER_S: Final = 8  # generous ceiling on speech rate: stops repetition loops early
# Words of the piece before that a long clip's next piece gets as context: enough
# to continue the sentence, little enough to leave the transcript its room.
_PREVIOUS_WORDS: Final = 40
_LOOP_COMPRESSION: Final = 2.4  # faster-whisper's threshold for "this is a repetition loop"


class Abandoned(Exception):
    """Raised on a worker thread when the caller stopped waiting: the rest is skipped."""


def _check(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Abandoned


class WhisperSTT:
    """Implements the :class:`~rtagents.engines.base.STT` protocol (pcm16, 16 kHz)."""

    def __init__(
        self,
        *,
        cpu_threads: int = 2,
        workers: int = 1,
        language: str | None = None,
        min_window_s: int = WINDOWS_S[0],
        gate: CpuGate | None = None,
    ) -> None:
        self._cpu_threads = cpu_threads
        self._gate = gate  # shared with the other local engines (cpu_gate.py)
        self._workers = workers
        self._language = language  # default when a call names none; None = detect
        self._windows = tuple(w for w in WINDOWS_S if w >= min_window_s) or (30,)
        self._model: Any = None  # faster_whisper.WhisperModel once loaded
        self._load_lock = threading.Lock()
        self._tokenizers: dict[str, tuple[Any, list[int]]] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="whisper")
        # Told the seconds each job waited for a free worker (from a worker thread): the
        # server's metrics set it (rtagents_engine_queue_wait_seconds{engine="stt"}).
        self.on_queue_wait: Callable[[float], None] | None = None

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Verify and load the packaged weights (blocking, ~1-1.5 s; idempotent)."""
        with self._load_lock:
            if self._model is None:
                self._model = self._open()

    async def warm_up(self) -> None:
        """Load and transcribe half a second of silence, off the event loop."""
        await self._run(self._warm)

    def _warm(self) -> None:
        self.load()
        self._transcribe_sync(np.zeros(SAMPLE_RATE // 2, dtype=np.float32), "en")

    async def transcribe(
        self, pcm16: bytes, *, language: str | None = None, hints: TranscriptionHints | None = None
    ) -> Transcription:
        """Transcribe one clip; empty audio or non-speech gives an empty transcript.

        ``hints`` bias the decoder (prompt, keywords), bound language detection
        (languages) and ask for log probabilities (see :mod:`.whisper_hints`).
        """
        audio = pcm16_to_float32(pcm16[: len(pcm16) // 2 * 2])  # a dangling half sample: drop
        lang = language or self._language
        if not len(audio):
            return Transcription(
                text="", language=lang, logprobs=() if hints and hints.logprobs else None
            )
        stop = threading.Event()
        try:
            transcript: Transcription = await self._run(
                self._transcribe_sync, audio, lang, hints, stop
            )
        except asyncio.CancelledError:
            stop.set()  # the thread skips what is left (see the module doc)
            raise
        return transcript

    def close(self) -> None:
        """Stop the worker threads (queued calls still finish)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, func: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        queued = time.perf_counter()

        def timed() -> Any:
            report = self.on_queue_wait
            if report is not None:
                report(time.perf_counter() - queued)
            return func(*args)

        if self._gate is None:
            return await loop.run_in_executor(self._pool, timed)
        return await self._gate.run(self._pool, timed, threads=self._cpu_threads)

    # --- inference (worker threads) -------------------------------------------

    def _transcribe_sync(
        self,
        audio: np.ndarray[Any, Any],
        language: str | None,
        hints: TranscriptionHints | None = None,
        stop: threading.Event | None = None,
    ) -> Transcription:
        self.load()
        model = self._model
        seconds = len(audio) / SAMPLE_RATE
        window = next((w for w in self._windows if seconds + WINDOW_MARGIN_S <= w), None)
        try:
            if window is None or seconds > long_audio.MAX_PIECE_S:
                return self._transcribe_long(audio, language, hints, stop)
            return self._transcribe_window(model, audio, (window, seconds), language, hints, stop)
        except (EngineFailure, Abandoned):
            raise
        except Exception as exc:  # CTranslate2 raises plain RuntimeError/ValueError
            raise EngineFailure(f"Whisper failed on {seconds:.1f} s of audio: {exc}") from exc

    def _transcribe_window(
        self,
        model: Any,
        audio: np.ndarray[Any, Any],
        sizes: tuple[int, float],
        lang: str | None,
        hints: TranscriptionHints | None,
        stop: threading.Event | None = None,
    ) -> Transcription:
        import ctranslate2

        _check(stop)  # cancelled while it waited for the thread, or between two pieces
        window, seconds = sizes
        frames = window * _FRAMES_PER_S
        mel = model.feature_extractor(audio)[:, :frames]
        features = np.zeros((1, mel.shape[0], frames), dtype=np.float32)
        features[0, :, : mel.shape[1]] = mel  # zero padding, exactly as faster-whisper pads
        encoded = model.model.encode(ctranslate2.StorageView.from_array(features))
        _check(stop)  # decoding is the other half of the work
        if lang is None:
            candidates = hints.languages if hints else ()
            lang = pick_language(model.model.detect_language(encoded)[0], candidates)
        tokenizer, suppressed = self._tokenizer(model, lang)
        prompt = prompt_tokens(tokenizer, hints)
        context = len(prompt) - len(tokenizer.sot_sequence) - 1
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=1,
            # Counts the prompt too: the context (if any) must not eat the transcript's room.
            max_length=min(448, context + 16 + math.ceil(seconds * _TOKENS_PER_S)),
            suppress_blank=True,
            suppress_tokens=suppressed,
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        if result.no_speech_prob > _NO_SPEECH_PROB and result.scores[0] < _LOW_LOGPROB:
            tokens = []  # Whisper "hears" stock phrases in noise; this is its own guard
        if not any(ch.isalnum() for ch in tokenizer.decode(tokens)):
            # Punctuation alone ("...") is Whisper's filler for silence: on some CPUs
            # 2 s of zeros scores no_speech 0.56, just under the guard above.
            tokens = []
        logprobs = None
        if hints is not None and hints.logprobs:
            logprobs = token_logprobs(model, encoded, prompt, tokens, tokenizer, mel.shape[1])
        text = tokenizer.decode(tokens).strip()
        return Transcription(text=text, language=lang, logprobs=logprobs)

    def _transcribe_long(
        self,
        audio: np.ndarray[Any, Any],
        lang: str | None,
        hints: TranscriptionHints | None,
        stop: threading.Event | None = None,
    ) -> Transcription:
        """Past 12 s: pieces cut at pauses (:mod:`.long_audio`), transcribed in order.

        Each piece goes through the same window path as a short clip, with the
        session's hints plus the newest words of the piece before it as context
        (Whisper continues a transcript it has "just seen"); the first piece's
        language holds for the rest. Logprobs are the pieces' tokens, in order.
        """
        texts: list[str] = []
        logprobs: list[TokenLogprob] = []
        for piece in long_audio.voiced_pieces(audio, SAMPLE_RATE):
            seconds = len(piece) / SAMPLE_RATE
            window = next((w for w in self._windows if seconds + WINDOW_MARGIN_S <= w), 30)
            sizes = (window, seconds)
            heard = self._transcribe_window(
                self._model, piece, sizes, lang, _with_previous(hints, texts), stop
            )
            if texts and _looks_wrong(heard.text):
                # The context can lead Whisper astray (a loop, or nothing where Silero
                # heard speech): hear the piece again without it, as its own fallback.
                heard = self._transcribe_window(self._model, piece, sizes, lang, hints, stop)
            lang = heard.language
            if heard.text:
                texts.append(heard.text)
            logprobs.extend(heard.logprobs or ())
        wanted = hints is not None and hints.logprobs
        return Transcription(
            text=" ".join(texts), language=lang, logprobs=tuple(logprobs) if wanted else None
        )

    def _tokenizer(self, model: Any, language: str) -> tuple[Any, list[int]]:
        """The tokenizer for ``language`` and its suppressed tokens (built once per language)."""
        cached = self._tokenizers.get(language)
        if cached is not None:
            return cached
        from faster_whisper.tokenizer import _LANGUAGE_CODES, Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        if language not in _LANGUAGE_CODES:
            raise EngineFailure(
                f"Whisper does not know the language {language!r}.",
                hint="Use an ISO-639-1 code such as 'en', 'fr' or 'de', or leave it unset.",
            )
        tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language=language)
        suppressed = list(get_suppressed_tokens(tokenizer, [-1]) or [])
        self._tokenizers[language] = (tokenizer, suppressed)
        return tokenizer, suppressed

    def _open(self) -> Any:
        assets.require("faster_whisper", "faster-whisper", what="Whisper STT")
        assets.require("ctranslate2", "ctranslate2", what="Whisper STT")
        from faster_whisper import WhisperModel

        with assets.whisper_model_files() as files:
            try:
                return WhisperModel(
                    "whisper-base (packaged)",
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=self._cpu_threads,
                    num_workers=self._workers,
                    files=files,
                )
            except Exception as exc:  # CTranslate2 reports a bad model as RuntimeError
                raise EngineFailure(
                    f"CTranslate2 could not load the packaged Whisper model: {exc}",
                    hint=assets.LOCAL_EXTRA_HINT,
                ) from exc


def _looks_wrong(text: str) -> bool:
    """Nothing, or a repetition loop: text that compresses like Whisper's loops do."""
    raw = text.encode()
    return not raw or len(raw) / len(zlib.compress(raw)) > _LOOP_COMPRESSION


def _with_previous(hints: TranscriptionHints | None, texts: list[str]) -> TranscriptionHints:
    """``hints`` with the newest words heard so far appended to its prompt."""
    base = hints or TranscriptionHints()
    previous = " ".join(" ".join(texts).split()[-_PREVIOUS_WORDS:])
    prompt = f"{base.prompt.strip()} {previous}".strip()
    return replace(base, prompt=prompt)
