"""Turn detection in a live session: VAD on every append, auto-commit, barge-in, idle timeout.

One :class:`Turns` per local session (``AudioIn.turns``). Every chunk of
input audio goes through a streaming resampler into the session's own VAD;
the scored windows drive the pure :class:`TurnDetector`, and this module
turns its verdicts into protocol events and actions:

- speech starts: ``input_audio_buffer.speech_started`` (with the id the user
  item will get); with ``interrupt_response`` an active response is stopped
  *before* the event is queued, so no audio delta follows it;
- silence begins: the final transcription starts speculatively, and so
  does the reply's first clause (:mod:`.speculation`), held until the turn
  ends and discarded when speech resumes;
- the turn ends: ``speech_stopped``, the commit (the same events as a manual
  ``input_audio_buffer.commit``, keeping only the audio from the speech start
  minus the prefix padding), the transcript, and with ``create_response`` a
  response;
- nobody spoke for ``idle_timeout_ms`` after a reply was heard:
  ``input_audio_buffer.timeout_triggered``, a commit of that quiet audio and
  a response, as on the hosted API.

Audio time counts every sample appended since the session began, whatever
the turn detection setting, so event timestamps match the hosted API's.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from openai.types.realtime import (
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    InputAudioBufferTimeoutTriggered,
)
from pydantic import BaseModel

from ...engines.base import VAD, SpeechProbability
from ...observability.recording_format import transport_kind
from ...protocol.audio import PCM_RATE
from ...protocol.errors import RealtimeError
from ...protocol.resample import StreamResampler
from .. import ids
from ..host.backend import ReceivedEvent
from ..host.wire_events import build
from .prompt_warming import PromptWarmer
from .responder import Responder
from .speculation import SETTLE_MS, HeldReply, Speculation
from .transcription import StreamingTranscriber, start_transcription
from .turn_detection import (
    IdleTimeout,
    SilenceBegan,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    TurnEvent,
    TurnSettings,
)
from .turn_mark_book import MARKS_KEPT as MARKS_KEPT  # re-exported: tests read it
from .turn_mark_book import MarkBook
from .turn_marks import TurnMarks, log

if TYPE_CHECKING:
    from .session_context import SessionContext

# Turns a committed stretch of the buffer into a user item (AudioIn.commit_audio).
Commit = Callable[[str, bytes], Awaitable[bool]]  # False: the item had no room

# Under turn detection, silence older than the next turn's prefix padding is
# never part of a turn: once this much of it piles up, it is let go (a caller
# silent for an hour must not hold an hour of audio).
SILENCE_KEPT_MS = 10_000
_SILENCE_MARGIN_MS = 1_000  # kept beyond the prefix padding, for VAD lag
# semantic_vad may end a turn as soon as its transcript is in (~100-200 ms into the
# silence with Whisper base), before speculation.SETTLE_MS would have let a reply be
# prepared: it starts at once instead. The reply waits for that same transcript, so a
# gap between words (which ends sooner) is discarded before the LLM is asked anything.
SEMANTIC_SETTLE_MS = 0
_UNSET: Any = object()


def session_vad(prototype: VAD) -> VAD:
    """A VAD of the same kind for one session's stream (VADs are stateful).

    An engine may offer ``new_stream()`` (Silero does: it shares the loaded
    model); otherwise a shallow copy shares what is read-only and
    :meth:`VAD.reset` gives it its own state.
    """
    new_stream = getattr(prototype, "new_stream", None)
    vad: VAD = new_stream() if callable(new_stream) else copy.copy(prototype)
    vad.reset()
    return vad


def _nbytes(ms: float) -> int:
    """Bytes of 24 kHz pcm16 in ``ms`` (whole samples)."""
    return max(0, round(ms * PCM_RATE / 1000)) * 2


class Turns:
    """Drives turn detection for one session; inert while ``turn_detection`` is null."""

    def __init__(self, ctx: SessionContext, responder: Responder, *, commit: Commit) -> None:
        self._ctx = ctx
        self._responder = responder
        self._commit = commit
        self.stream_ms = 0.0  # audio time: input audio received since the session began
        self._buffer_start = 0.0  # audio time where the uncommitted buffer begins
        self._wire: Any = _UNSET  # the turn_detection config the detector was built for
        self._config: Any = None
        self.settings: TurnSettings | None = None
        self._detector: TurnDetector | None = None
        self._vad: VAD | None = None
        self._resampler: StreamResampler | None = None
        self._vad_origin = 0.0  # audio time of the VAD's time 0
        self._item_id: str | None = None  # promised by speech_started to the coming commit
        self.transcriber = StreamingTranscriber(ctx, on_partial=self._warm)
        self.speculation = Speculation(ctx, responder)
        self.warmer = PromptWarmer(ctx, responder)
        self._pause_from: float | None = None  # speech end of a pause that may get a reply
        self.book = MarkBook(
            ctx.id,
            first_token=self._first_token_at,
            transport=lambda: transport_kind(getattr(ctx.port, "transport", None)),
            transcription_on=lambda: ctx.config.transcription is not None,
            report=self._report_turn,
        )

    @property
    def marks(self) -> Sequence[TurnMarks]:
        """The latency marks of the last :data:`MARKS_KEPT` responses, oldest first."""
        return self.book.kept

    # --- configuration ----------------------------------------------------------

    def configure(self) -> None:
        """Follow the session config; a changed ``turn_detection`` restarts detection."""
        config = self._ctx.config
        if config is self._config:
            return
        self._config = config
        audio = config.data.get("audio") or {}
        wire = (audio.get("input") or {}).get("turn_detection")
        if wire == self._wire:
            return
        self._wire = copy.deepcopy(wire)
        self._restart(TurnSettings.from_wire(wire))

    def _restart(self, settings: TurnSettings | None) -> None:
        self.settings = settings
        self.transcriber.reset()
        self.speculation.cancel()
        self._pause_from = None
        self._item_id = None
        prototype = self._ctx.state.engines.vad
        if settings is None or prototype is None:
            self._detector = None
            return
        if self._vad is None:
            self._vad = session_vad(prototype)
        self._vad.reset()
        self._resampler = StreamResampler(PCM_RATE, self._vad.sample_rate)
        self._vad_origin = self.stream_ms
        self._detector = TurnDetector(
            settings, now_ms=self.stream_ms, buffer_start_ms=self._buffer_start
        )
        if self._responder.active() is not None:
            self._detector.response_started()

    # --- audio in -----------------------------------------------------------------

    async def on_audio(self, pcm16: bytes) -> None:
        """Count, score and act on one chunk of input audio (already in the buffer)."""
        self.configure()  # first: a detector made now starts where this chunk starts
        self.stream_ms += len(pcm16) / 2 / PCM_RATE * 1000
        detector = self._detector
        if detector is None:
            return
        detector.heard(self.transcriber.latest_text, self.transcriber.latest_through_ms)
        for event in detector.feed(self._score(pcm16)):
            await self._act(event)
        self._drop_old_silence(detector)
        pause = self._pause_from
        if pause is not None and detector.pausing and detector.now_ms - pause >= self._settle_ms:
            self._pause_from = None  # a real pause, not a gap between words: prepare a reply
            self.speculation.begin(self._item_id, self.transcriber)
        if detector.speaking and not detector.pausing:  # silence has its own (speculative) job
            self._pause_from = None
            self.speculation.cancel()  # speech resumed: the turn did not end there
            self.transcriber.resumed()  # nor will the pause's transcript be the turn's
            start = detector.audio_start_ms
            self.transcriber.speaking(
                lambda: self._peek(start, detector.now_ms), detector.now_ms - detector.onset_ms
            )

    @property
    def _settle_ms(self) -> float:
        """Silence before a reply is prepared (see :data:`SEMANTIC_SETTLE_MS`)."""
        semantic = self.settings is not None and self.settings.mode == "semantic_vad"
        return SEMANTIC_SETTLE_MS if semantic else SETTLE_MS

    def _drop_old_silence(self, detector: TurnDetector) -> None:
        """Let go of buffered silence no turn can use (see :data:`SILENCE_KEPT_MS`)."""
        if detector.speaking or detector is not self._detector or self.settings is None:
            return
        keep_from = detector.now_ms - self.settings.prefix_padding_ms - _SILENCE_MARGIN_MS
        if keep_from - self._buffer_start < SILENCE_KEPT_MS:
            return
        self._take(self._buffer_start, keep_from)
        detector.buffer_taken(keep_from)

    def _score(self, pcm16: bytes) -> Sequence[SpeechProbability]:
        assert self._vad is not None and self._resampler is not None
        windows = self._vad.score(self._resampler.process(pcm16))
        origin = self._vad_origin
        if not origin:  # the VAD's clock is the stream's: nothing to shift
            return windows
        return [
            SpeechProbability(
                start_ms=w.start_ms + origin,
                end_ms=w.end_ms + origin,
                probability=w.probability,
                loud_until_ms=None if w.loud_until_ms is None else w.loud_until_ms + origin,
            )
            for w in windows
        ]

    def buffer_taken(self, *, committed: bool) -> str:
        """The client committed or cleared the buffer; returns the id a commit's item gets.

        A turn in progress is abandoned (what follows is a new turn); the id
        ``speech_started`` promised goes to this commit.
        """
        item_id = (self._item_id if committed else None) or ids.item_id()
        self._item_id = None
        self._buffer_start = self.stream_ms
        self.transcriber.reset()
        self.speculation.cancel()
        self._pause_from = None
        if self._detector is not None:
            self._detector.buffer_taken(self.stream_ms)
        return item_id

    def _peek(self, start_ms: float, end_ms: float) -> bytes:
        base = self._buffer_start
        return self._ctx.input.peek(_nbytes(start_ms - base), _nbytes(end_ms - base))

    def _take(self, start_ms: float, end_ms: float) -> bytes:
        """Remove the buffer up to ``end_ms``, returning the audio from ``start_ms``."""
        base = self._buffer_start
        pcm16 = self._ctx.input.take(_nbytes(end_ms - base), start=_nbytes(start_ms - base))
        self._buffer_start = max(base, end_ms)
        return pcm16

    # --- acting on the detector ---------------------------------------------------

    async def _act(self, event: TurnEvent) -> None:
        if isinstance(event, SpeechStarted):
            await self._speech_started(event)
        elif isinstance(event, SilenceBegan):
            audio = self._peek(event.audio_start_ms, event.speech_end_ms)
            self.transcriber.speculate(audio, event.speech_end_ms)
            if self.settings is not None and self.settings.create_response:
                self._pause_from = event.speech_end_ms  # a reply once it lasts SETTLE_MS
        elif isinstance(event, SpeechStopped):
            await self._speech_stopped(event)
        else:
            await self._idle_timeout(event)

    async def _speech_started(self, event: SpeechStarted) -> None:
        ctx = self._ctx
        self.transcriber.reset()
        self.speculation.cancel()
        self._pause_from = None
        self._item_id = item_id = ids.item_id()
        interrupted = None
        if self.settings is not None and self.settings.interrupt_response:
            interrupted = self._responder.active()
            if interrupted is not None:
                interrupted.interrupt("turn_detected")  # before the event: no stale audio
        await ctx.emit(
            build(
                InputAudioBufferSpeechStartedEvent,
                audio_start_ms=event.audio_start_ms,
                item_id=item_id,
            )
        )
        if interrupted is not None:
            await interrupted.cancel("turn_detected")  # waits for its response.done
        self._warm("")  # the history and the user turn's opening, before any word

    def _warm(self, words: str) -> None:
        """Let the LLM read the coming response's prompt up to ``words`` (prompt_warming.py)."""
        if self.settings is not None and self.settings.create_response:
            self.warmer.warm(self._item_id, words)

    async def _speech_stopped(self, event: SpeechStopped) -> None:
        ctx = self._ctx
        item_id = self._item_id or ids.item_id()
        self._item_id = None
        self._pause_from = None
        held = self.speculation.hand_over(item_id)  # the turn is confirmed: ours to use or drop
        stopped = build(
            InputAudioBufferSpeechStoppedEvent, audio_end_ms=event.audio_end_ms, item_id=item_id
        )
        await ctx.emit(stopped)
        mode = self.settings.mode if self.settings is not None else "server_vad"
        self.book.turn_ended(item_id, mode, event.audio_end_ms)
        pcm16 = self._take(event.audio_start_ms, event.decided_ms)
        if not await self._commit(item_id, pcm16):
            if held is not None:
                held.discard()
            return  # no room for the turn's item: nothing to transcribe or answer

        def final(text: str) -> None:  # also when no transcript is sent (transcription off)
            self.book.transcript_final(item_id)

        self.transcriber.finish(item_id, pcm16, event.speech_end_ms, on_text=final)
        self._respond(item_id, held)

    async def _idle_timeout(self, event: IdleTimeout) -> None:
        ctx = self._ctx
        item_id = ids.item_id()
        await ctx.emit(
            build(
                InputAudioBufferTimeoutTriggered,
                audio_start_ms=event.audio_start_ms,
                audio_end_ms=event.audio_end_ms,
                item_id=item_id,
            )
        )
        self.book.turn_ended(item_id, "idle_timeout")
        pcm16 = self._take(event.audio_start_ms, event.audio_end_ms)
        if not await self._commit(item_id, pcm16):
            return
        start_transcription(ctx, item_id, pcm16)
        self._respond(item_id)

    def _respond(self, item_id: str, held: HeldReply | None = None) -> None:
        """Start the reply to a finished turn, if the session wants one and none is running."""
        ctx = self._ctx
        settings = self.settings
        wanted = settings is not None and settings.create_response and ctx.config.kind == "realtime"
        active = self._responder.active() if wanted else None
        if wanted and active is None:
            run = self._responder.start({}, held)
            self.book.answer(item_id, run.id)
            return
        if held is not None:
            held.discard()  # no response to use it
        if active is not None:
            log.info(
                "turn %s: no response, %s is still active (interrupt_response is off)",
                item_id,
                active.id,
                extra={"session_id": ctx.id},
            )

    # --- what the host emits (an observer of the host) ---------------------------------

    wants_received = False  # responses and marks are seen as they are sent

    def on_received(self, inbound: ReceivedEvent) -> None:
        return None

    def on_sent(self, model: BaseModel, error: RealtimeError | None) -> None:
        """See every emitted event: responses arm/disarm the idle timeout and fill marks."""
        event: Any = model
        kind = getattr(event, "type", None)
        self.book.on_sent(kind, event)
        if self._detector is None:
            return
        if kind == "response.created":
            self._detector.response_started()
        elif kind == "response.done":  # the next response.created disarms it again
            playback_ms = self._playback_ms(event.response)
            self._detector.response_finished(self.stream_ms + playback_ms)

    def on_closed(self, code: int | None, reason: str | None, by: str) -> None:
        """The session ended: marks still open or waiting for a stage are logged as they are."""
        self.speculation.cancel()
        self.book.close()

    def let_go(self) -> None:
        """After :meth:`on_closed`: drop the callbacks that point back here (cycles)."""
        self.book.let_go()
        self.transcriber.let_go()
        self._commit = _no_commit

    def _first_token_at(self, response_id: str) -> float | None:
        run = self._responder.runs.get(response_id)  # still registered at its response.done
        return run.first_token_at if run is not None else None

    def _report_turn(self, marks: TurnMarks) -> None:
        self._ctx.port.report_turn(marks)  # metrics' latency histograms, recordings

    def _playback_ms(self, response: Any) -> float:
        """How long the client will play the response's audio (it was all sent already)."""
        conversation = self._ctx.conversation
        return sum(conversation.audio_ms(str(item.id)) for item in response.output or ())


async def _no_commit(_: str, __: bytes) -> bool:
    """What an ended session's turns commit into: nothing (the item has no room)."""
    return False
