"""Turn detection as a pure state machine over VAD windows (no clock, no I/O).

Time is *audio time*: milliseconds of input audio since the session's first
``input_audio_buffer.append``, cumulative across commits, which is how the
hosted API numbers ``audio_start_ms``/``audio_end_ms``. The async glue
(:mod:`.turns`) feeds scored windows in and acts on the events that come out,
so every rule here is testable with exact arithmetic.

``server_vad`` ends a turn after ``silence_duration_ms`` of silence.
``semantic_vad`` ends it after a silence whose length depends on the
eagerness *and* on whether the latest transcript looks finished; the policy
(:data:`SEMANTIC_SILENCE_MS`, :func:`transcript_state`) is documented in
``docs/turn_detection.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ...engines.base import SpeechProbability
from .turn_words import TRAILING_WORDS as TRAILING_WORDS  # re-exported: the policy's words
from .turn_words import TranscriptState
from .turn_words import transcript_state as transcript_state  # re-exported: tests, docs

Mode = Literal["server_vad", "semantic_vad"]
Eagerness = Literal["low", "medium", "high", "auto"]

DEFAULT_THRESHOLD = 0.5
DEFAULT_PREFIX_PADDING_MS = 300
DEFAULT_SILENCE_MS = 500
# How far before a voiced window's end the silence may be counted from, when the
# VAD measured the window's sound (SpeechProbability.loud_until_ms). Silero's
# verdict stays above 0.5 for 25-64 ms after the last voiced sample of the
# bench's clips. One Silero window at most: a stop consonant's closure is quiet
# but is speech, and 64 ms ended one of bench/pause_clips.py's utterances after
# its first word ("Add | apples, ...").
QUIET_TAIL_MS = 32.0
# semantic_vad: silence (ms) that ends a turn, by eagerness and by how the
# transcript ends (turn_words.py). "unfinished" is the hosted API's max wait (8 s,
# 4 s, 2 s); "neutral" outlasts a thinking pause of up to 600 ms at medium. The
# medium "complete" wait outlasts the comma pauses of Piper's speech (Silero hears
# 160-256 ms) yet ends the turn before the reply prepared in the silence is ready
# (about 450 ms after the last voiced sample here), so it costs no latency.
SEMANTIC_SILENCE_MS: Mapping[str, Mapping[TranscriptState, int]] = {
    "low": {"complete": 800, "neutral": 1500, "unfinished": 8000},
    "medium": {"complete": 300, "neutral": 800, "unfinished": 4000},
    "high": {"complete": 200, "neutral": 500, "unfinished": 2000},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnSettings:
    """A session's ``turn_detection`` object with every default filled in."""

    mode: Mode
    threshold: float = DEFAULT_THRESHOLD
    prefix_padding_ms: int = DEFAULT_PREFIX_PADDING_MS
    silence_duration_ms: int = DEFAULT_SILENCE_MS
    idle_timeout_ms: int | None = None
    create_response: bool = True
    interrupt_response: bool = True
    eagerness: Eagerness = "auto"

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | None) -> TurnSettings | None:
        """``None`` for push-to-talk; fields that are ``null`` take their defaults."""
        if data is None:
            return None
        given = {k: v for k, v in data.items() if v is not None}
        mode: Mode = "semantic_vad" if given.get("type") == "semantic_vad" else "server_vad"
        create = bool(given.get("create_response", True))
        interrupt = bool(given.get("interrupt_response", True))
        if mode == "semantic_vad":
            return cls(
                mode=mode,
                eagerness=given.get("eagerness", "auto"),
                create_response=create,
                interrupt_response=interrupt,
            )
        return cls(
            mode=mode,
            threshold=float(given.get("threshold", DEFAULT_THRESHOLD)),
            prefix_padding_ms=int(given.get("prefix_padding_ms", DEFAULT_PREFIX_PADDING_MS)),
            silence_duration_ms=int(given.get("silence_duration_ms", DEFAULT_SILENCE_MS)),
            idle_timeout_ms=given.get("idle_timeout_ms"),
            create_response=create,
            interrupt_response=interrupt,
        )

    def to_wire(self) -> dict[str, Any]:
        """The object ``session.updated`` shows (the effective values)."""
        common = {
            "create_response": self.create_response,
            "interrupt_response": self.interrupt_response,
        }
        if self.mode == "semantic_vad":
            return {"type": "semantic_vad", "eagerness": self.eagerness, **common}
        return {
            "type": "server_vad",
            "threshold": self.threshold,
            "prefix_padding_ms": self.prefix_padding_ms,
            "silence_duration_ms": self.silence_duration_ms,
            "idle_timeout_ms": self.idle_timeout_ms,
            **common,
        }


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    audio_start_ms: int  # onset minus prefix padding, never before the buffer or 0
    onset_ms: float


@dataclass(frozen=True, slots=True)
class SilenceBegan:
    """Speech may have ended at ``speech_end_ms``: time to transcribe speculatively."""

    speech_end_ms: float
    audio_start_ms: int  # of the turn it may end


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    audio_start_ms: int
    audio_end_ms: int  # end of the last voiced window (the silence is not included)
    speech_end_ms: float
    decided_ms: float  # when the silence was long enough: the item's audio ends here


@dataclass(frozen=True, slots=True)
class IdleTimeout:
    audio_start_ms: int
    audio_end_ms: int


TurnEvent: TypeAlias = SpeechStarted | SilenceBegan | SpeechStopped | IdleTimeout


def _sound_end(window: SpeechProbability) -> float:
    """Where a voiced window's sound ends, for counting the silence after it: the VAD's
    measure (``loud_until_ms``; its ``start_ms`` when nothing in it was loud), never
    more than QUIET_TAIL_MS before the window's end; the window's end when unmeasured."""
    loud, end = window.loud_until_ms, window.end_ms
    if loud is None:
        return end
    return max(loud, end - QUIET_TAIL_MS) if loud > window.start_ms else end - QUIET_TAIL_MS


def semantic_silence_ms(eagerness: str, text: str) -> int:
    table = SEMANTIC_SILENCE_MS["medium" if eagerness == "auto" else eagerness]
    return table[transcript_state(text)]


class TurnDetector:
    """Turns a stream of VAD windows into turn events.

    Window times must be audio times (the glue adds the offset of the VAD's
    own stream) and increase. ``transcript`` is read by ``semantic_vad`` at
    each window; the glue updates it with :meth:`heard` as transcriptions
    finish. A transcript of less speech than was said (an older pause's, a
    partial one's) says nothing about the silence now: it counts as none.
    """

    def __init__(
        self, settings: TurnSettings, *, now_ms: float = 0.0, buffer_start_ms: float | None = None
    ) -> None:
        self.settings = settings
        self.transcript = ""
        self.transcript_through_ms: float | None = None  # None: set by hand, taken as current
        self._now = now_ms
        self._buffer_start = now_ms if buffer_start_ms is None else buffer_start_ms
        self._speaking = False
        self._onset = 0.0
        self._audio_start = 0
        self._last_voiced_end = 0.0  # the audio of a turn ends here (whole windows)
        self._silence_from = 0.0  # silence is counted from here (where the sound ended)
        self._silence_reported = False
        self._idle_from: float | None = now_ms if settings.idle_timeout_ms is not None else None

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def pausing(self) -> bool:
        """Speaking, but the latest window was quiet (the turn may be ending)."""
        return self._speaking and self._silence_reported

    @property
    def now_ms(self) -> float:
        return self._now

    @property
    def onset_ms(self) -> float:
        """Where the current utterance's speech began (valid while speaking)."""
        return self._onset

    @property
    def audio_start_ms(self) -> int:
        """Where the current utterance's audio begins (valid while speaking)."""
        return self._audio_start

    def heard(self, text: str, through_ms: float) -> None:
        """The latest transcript of the turn, of the speech up to ``through_ms`` (audio time)."""
        self.transcript = text
        self.transcript_through_ms = through_ms

    def required_silence_ms(self) -> int:
        settings = self.settings
        if settings.mode == "semantic_vad":
            through = self.transcript_through_ms
            current = through is None or through >= self._last_voiced_end
            return semantic_silence_ms(settings.eagerness, self.transcript if current else "")
        return settings.silence_duration_ms

    def feed(self, windows: Iterable[SpeechProbability]) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        for window in windows:
            self._step(window, events)
        return events

    def _step(self, window: SpeechProbability, events: list[TurnEvent]) -> None:
        self._now = max(self._now, window.end_ms)
        if window.probability >= self.settings.threshold:
            started = self._voiced(window)
            if started is not None:
                events.append(started)
            return
        if not self._speaking:
            idle = self._idle_check()
            if idle is not None:
                events.append(idle)
            return
        if not self._silence_reported:
            self._silence_reported = True
            events.append(SilenceBegan(self._last_voiced_end, self._audio_start))
        if self._now - self._silence_from >= self.required_silence_ms():
            events.append(self._stop())

    def _voiced(self, window: SpeechProbability) -> SpeechStarted | None:
        self._last_voiced_end = window.end_ms
        self._silence_from = max(self._silence_from, _sound_end(window))
        self._silence_reported = False
        if self._speaking:
            return None
        self._speaking = True
        self._idle_from = None
        self._onset = window.start_ms
        start = max(window.start_ms - self.settings.prefix_padding_ms, self._buffer_start, 0.0)
        self._audio_start = round(start)
        return SpeechStarted(audio_start_ms=self._audio_start, onset_ms=window.start_ms)

    def _stop(self) -> SpeechStopped:
        self._speaking = False
        self._buffer_start = self._now
        return SpeechStopped(
            audio_start_ms=self._audio_start,
            audio_end_ms=round(self._last_voiced_end),
            speech_end_ms=self._last_voiced_end,
            decided_ms=self._now,
        )

    def _idle_check(self) -> IdleTimeout | None:
        timeout = self.settings.idle_timeout_ms
        if timeout is None or self._idle_from is None:
            return None
        if self._now - self._idle_from < timeout:
            return None
        start = round(max(self._idle_from, self._buffer_start))
        self._idle_from = None  # re-armed when the response it causes has finished
        self._buffer_start = self._now
        return IdleTimeout(audio_start_ms=start, audio_end_ms=round(self._now))

    # --- what the glue tells it --------------------------------------------------

    def buffer_taken(self, at_ms: float) -> None:
        """The client committed or cleared the buffer: what follows is a new turn."""
        self._buffer_start = max(at_ms, 0.0)
        self._speaking = False
        self._silence_reported = False

    def response_started(self) -> None:
        """No idle timeout while the model is responding."""
        self._idle_from = None

    def response_finished(self, playback_end_ms: float) -> None:
        """Arm the idle timeout from when the reply's audio will have been heard."""
        if self.settings.idle_timeout_ms is not None and not self._speaking:
            self._idle_from = max(playback_end_ms, self._buffer_start)
