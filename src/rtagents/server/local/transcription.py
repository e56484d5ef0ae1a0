"""Input audio transcription: per committed item, and ahead of time while the user speaks.

A committed item is transcribed in a background task registered in
``SessionContext.input.transcripts`` (the LLM request waits for it through
:meth:`InputAudio.heard`); when ``audio.input.transcription`` is set the
client gets ``…input_audio_transcription.delta``/``.completed`` (or
``.failed``) after the commit, as on the hosted API.

With turn detection, :class:`StreamingTranscriber` works while the user is
still talking, so that little is left to do when the turn ends: every
:data:`PARTIAL_EVERY_MS` of new speech it transcribes the utterance so far,
and at the onset of silence it starts the final transcription speculatively;
if no speech follows before the turn ends, that result *is* the item's
transcript. Jobs run one at a time (an STT engine is CPU-bound; two at once
only slow each other down) and never block the append path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionDeltaEvent,
    ConversationItemInputAudioTranscriptionFailedEvent,
)

from ...engines.base import EngineFailure, Transcription
from ...engines.stage import Stage, engine_stage
from ...protocol.audio import PCM_RATE, resample_pcm16
from ..host.wire_events import build
from .input_audio import BYTES_PER_MS
from .transcription_options import hints_for, language_of, logprobs_after, wire_logprobs

if TYPE_CHECKING:
    from .session_context import SessionContext

log = logging.getLogger("rtagents.server.transcription")
PARTIAL_EVERY_MS = 1000.0  # new speech between two transcriptions of an unfinished turn
NO_STT = (
    "This server has no STT engine, so input audio cannot be transcribed; send text items "
    "instead, or run the server with an STT engine."
)
_UNSTABLE = ("\ufffd", "[unintelligible")  # marks of a cut-off ending, never shown early


class TranscriptionTooLong(EngineFailure):
    """The audio is past ``limits.transcription_seconds``: refused before the engine runs."""

    code = "transcription_too_long"

    def __init__(self, seconds: float, limit: int) -> None:
        super().__init__(
            f"The audio is {seconds:.1f} s long, past the limit transcription_seconds "
            f"({limit} s), so it was not transcribed.",
            hint="Speak shorter turns (turn detection ends a turn at a pause), commit the "
            "buffer more often, or raise --limit-transcription-seconds on the server.",
        )


def start_transcription(
    ctx: SessionContext, item_id: str, pcm16: bytes
) -> asyncio.Task[str | None]:
    """Transcribe a committed item's audio in the background (see :meth:`InputAudio.heard`)."""
    settings = ctx.config.transcription
    task = ctx.spawn(report(ctx, item_id, pcm16, settings, stt_heard(ctx, pcm16)), f"stt-{item_id}")
    ctx.input.transcripts[item_id] = task
    return task


async def stt_heard(ctx: SessionContext, pcm16: bytes, *, partial: bool = False) -> Transcription:
    """What the STT engine hears in ``pcm16`` (24 kHz); :class:`EngineFailure` if it cannot.

    The session's transcription options go with it (:mod:`.transcription_options`);
    an engine is given ``hints`` only when there are some.
    """
    stt = ctx.state.engines.stt
    if stt is None:
        raise EngineFailure(NO_STT)
    limit = ctx.state.config.limits.transcription_seconds
    seconds = len(pcm16) / BYTES_PER_MS / 1000
    if seconds > limit:
        raise TranscriptionTooLong(seconds, limit)
    language = language_of(ctx.config.transcription)
    hints = hints_for(ctx.config, partial=partial)
    audio = resample_pcm16(pcm16, PCM_RATE, stt.sample_rate)
    # A turn's transcript holds up its reply; a partial one is only shown.
    with engine_stage(Stage.PARTIAL if partial else Stage.TURN_END):
        if hints is None:
            return await stt.transcribe(audio, language=language)
        return await stt.transcribe(audio, language=language, hints=hints)


async def report(
    ctx: SessionContext,
    item_id: str,
    pcm16: bytes,
    settings: Mapping[str, Any] | None,
    text_source: Awaitable[Transcription],
    *,
    early: str = "",
    on_text: Callable[[str], None] | None = None,
) -> str | None:
    """Await the item's transcript and tell the client (if it asked).

    ``early`` (a stable partial transcript) is sent as a delta at once; the
    next delta carries what the final transcript adds to it. ``.completed``
    always holds the whole text, even if the final differs from ``early``.
    With logprobs asked for, ``.completed`` carries every token's and the last
    delta those of the tokens it adds (``early`` went out before they existed).
    """
    sent = early if settings is not None else ""
    if sent:
        await ctx.emit(
            build(
                ConversationItemInputAudioTranscriptionDeltaEvent,
                item_id=item_id,
                content_index=0,
                delta=sent,
            )
        )
    try:
        heard = await text_source
    except asyncio.CancelledError:
        raise
    except EngineFailure as exc:
        code = exc.code if isinstance(exc, TranscriptionTooLong) else "transcription_failed"
        await _failed(ctx, item_id, settings, f"{exc} {exc.hint}".strip(), code)
        return None
    except Exception as exc:
        log.exception("STT engine failed on %s", item_id)
        await _failed(ctx, item_id, settings, f"The STT engine failed: {exc!r}")
        return None
    text = heard.text
    if on_text is not None:
        on_text(text)
    if settings is None:
        return text
    rest = text[len(sent) :] if text.startswith(sent) else ""
    where: dict[str, Any] = {"item_id": item_id, "content_index": 0}
    logprobs = heard.logprobs
    if rest or not sent:
        extra = {}
        if logprobs is not None:
            extra["logprobs"] = wire_logprobs(logprobs_after(logprobs, sent if rest else ""))
        await ctx.emit(
            build(ConversationItemInputAudioTranscriptionDeltaEvent, **where, delta=rest, **extra)
        )
    if logprobs is not None:
        where["logprobs"] = wire_logprobs(logprobs)
    seconds = len(pcm16) / BYTES_PER_MS / 1000
    await ctx.emit(
        build(
            ConversationItemInputAudioTranscriptionCompletedEvent,
            **where,
            transcript=text,
            usage={"type": "duration", "seconds": round(seconds, 3)},
        )
    )
    return text


async def _failed(
    ctx: SessionContext,
    item_id: str,
    settings: Mapping[str, Any] | None,
    message: str,
    code: str = "transcription_failed",
) -> None:
    """Tell the client a transcription it asked for failed (silence if it did not ask)."""
    if settings is None:
        return
    kind = "invalid_request_error" if code == TranscriptionTooLong.code else "server_error"
    await ctx.emit(
        build(
            ConversationItemInputAudioTranscriptionFailedEvent,
            item_id=item_id,
            content_index=0,
            # Past a limit the request was at fault, not the server.
            error={"type": kind, "code": code, "message": message},
        )
    )


def stable_prefix(text: str) -> str:
    """The part of a partial transcript that later audio will not change.

    The last word may be cut off mid-way, so only whole words before the last
    space count; anything after a decoding failure is dropped too.
    """
    for mark in _UNSTABLE:
        cut = text.find(mark)
        if cut >= 0:
            text = text[:cut]
    space = text.rfind(" ")
    return text[: space + 1] if space >= 0 else ""


class _Job:
    """One STT run that starts only when the one before it has ended."""

    def __init__(
        self,
        ctx: SessionContext,
        audio: bytes,
        after: _Job | None,
        on_text: Callable[[str], None],
        partial: bool,
    ) -> None:
        self.started = False
        run = self._run(ctx, audio, after, on_text, partial)
        self.task: asyncio.Task[Transcription] = ctx.spawn(run, "stt-job")
        self.task.add_done_callback(_retrieve)

    async def _run(
        self,
        ctx: SessionContext,
        audio: bytes,
        after: _Job | None,
        on_text: Callable[[str], None],
        partial: bool,
    ) -> Transcription:
        if after is not None and not after.task.done():
            await asyncio.wait([after.task])  # wait, but never cancel the job before
        self.started = True
        heard = await stt_heard(ctx, audio, partial=partial)
        on_text(heard.text)
        return heard


def _retrieve(task: asyncio.Task[Transcription]) -> None:
    """A speculative job's failure is reported by whoever uses it, or by nobody."""
    if not task.cancelled():
        task.exception()


class StreamingTranscriber:
    """Transcribes the turn in progress ahead of its end (one per session).

    The glue in :mod:`.turns` calls :meth:`resumed` and :meth:`speaking` on
    every append while the user speaks, :meth:`speculate` at each silence
    onset, :meth:`finish` when the turn is committed and :meth:`reset` when a
    turn is abandoned.
    ``latest_text`` is the newest transcript of the current turn, for
    ``semantic_vad``'s end-of-turn policy; ``latest_through_ms`` is where the
    speech it heard ends (audio time; minus infinity for a partial transcript).
    """

    def __init__(
        self, ctx: SessionContext, on_partial: Callable[[str], None] | None = None
    ) -> None:
        self._ctx = ctx
        self._on_partial = on_partial  # told each partial transcript's stable words
        self._last: _Job | None = None  # the newest job, running or waiting
        self._speculative: tuple[float, _Job] | None = None
        self._covered_ms = 0.0  # speech the latest partial job was given
        self._partial = ""  # stable prefix of the latest partial transcript
        self._generation = 0  # bumped per turn: a late result of an old turn is ignored
        self.latest_text = ""
        self.latest_through_ms = float("-inf")

    @property
    def _stt_ready(self) -> bool:
        return self._ctx.state.engines.stt is not None

    def reset(self) -> None:
        """Forget the current turn; a speculative job that has not started is dropped."""
        self._generation += 1
        self._covered_ms = 0.0
        self._partial = ""
        self.latest_text = ""
        self.latest_through_ms = float("-inf")
        speculative, self._speculative = self._speculative, None
        if speculative is not None and not speculative[1].started:
            speculative[1].task.cancel()

    def let_go(self) -> None:
        """The session ended: drop ``on_partial`` (bound to the session's turns, a cycle)."""
        self._on_partial = None

    def resumed(self) -> None:
        """Speech went on after a pause: the pause's speculative job cannot be the turn's.

        It is cancelled even while it runs (the STT engine may then stop early,
        see :class:`~rtagents.engines.local.whisper_stt.WhisperSTT`): the jobs run
        one at a time, so the turn's real transcription would otherwise wait for
        a result nobody will read. Called on every voiced chunk, so cheap when idle.
        """
        speculative, self._speculative = self._speculative, None
        if speculative is not None:
            speculative[1].task.cancel()

    def speaking(self, audio: Callable[[], bytes], speech_ms: float) -> None:
        """Start a partial transcription if enough new speech came and none is running."""
        if not self._stt_ready or speech_ms - self._covered_ms < PARTIAL_EVERY_MS:
            return
        if self._last is not None and not self._last.task.done():
            return
        self._covered_ms = speech_ms
        self._last = self._job(audio(), partial=True)

    def speculate(self, audio: bytes, speech_end_ms: float) -> None:
        """Silence began: transcribe the turn as if it had ended at ``speech_end_ms``."""
        if not self._stt_ready:
            return
        if self._speculative is not None and not self._speculative[1].started:
            self._speculative[1].task.cancel()  # superseded before it ran
        job = self._job(audio, partial=False, through_ms=speech_end_ms)
        self._speculative = (speech_end_ms, job)
        self._last = job

    def speculative_task(self) -> asyncio.Task[Transcription] | None:
        """The transcription :meth:`speculate` started for the current silence, if any."""
        return self._speculative[1].task if self._speculative is not None else None

    def finish(
        self,
        item_id: str,
        pcm16: bytes,
        speech_end_ms: float | None,
        on_text: Callable[[str], None] | None = None,
    ) -> asyncio.Task[str | None]:
        """The committed turn's transcript task, reusing the speculative one if it still fits."""
        speculative, self._speculative = self._speculative, None
        reuse = (
            speculative is not None
            and speculative[0] == speech_end_ms
            and not speculative[1].task.cancelled()
        )
        partial = self._partial
        source: Awaitable[Transcription]
        if reuse and speculative is not None:
            source = speculative[1].task
        elif self._stt_ready:
            source = self._job(pcm16, partial=False).task
        else:
            source = stt_heard(self._ctx, pcm16)  # reports the missing engine
        self.reset()  # after the job above: its text belongs to this turn, not the next
        early = "" if isinstance(source, asyncio.Task) and source.done() else partial
        ctx = self._ctx
        settings = ctx.config.transcription
        coro = report(ctx, item_id, pcm16, settings, source, early=early, on_text=on_text)
        task = ctx.spawn(coro, f"stt-{item_id}")
        ctx.input.transcripts[item_id] = task
        return task

    def _job(self, audio: bytes, *, partial: bool, through_ms: float = float("-inf")) -> _Job:
        generation = self._generation

        def on_text(text: str) -> None:
            if generation == self._generation:
                self.latest_text = text
                self.latest_through_ms = through_ms
                if partial:
                    self._partial = stable_prefix(text)
                    if self._on_partial is not None:
                        self._on_partial(self._partial)

        return _Job(self._ctx, audio, self._last, on_text, partial)
