"""Speculative replies: the answer's first clause made ready during the end-of-turn silence.

With ``server_vad`` the caller waits the whole silence window (500 ms by
default) before the turn ends, and only then would the LLM and the TTS start.
At the onset of that silence the server already transcribes speculatively
(:mod:`.transcription`); a :class:`HeldReply` goes on from that transcript:
it builds the request the response *would* send, streams the LLM up to the
first clause and synthesises that clause, then holds both (the LLM stream
stays open, paused).

Nothing speculative reaches the wire or the conversation: a held reply only
calls engines. It emits no event, adds no item and takes no id; the response
that releases it makes its own events and ids as usual. It is released only
when the turn is confirmed (``speech_stopped`` and the commit start a
response, which hands its real request to :meth:`HeldReply.claim`), and only
if that request equals the speculative one exactly (same instructions,
history, transcript, tools, limits); the first clause's speech is used only
for the same text, voice and speed. Anything else discards it and the
response runs as it always did, so a released response is one the engines
could have produced for that very request.

Bounded and cancellable: at most one held reply per session
(:class:`Speculation`), holding the LLM chunks up to one clause and that
clause's audio. It is discarded when speech resumes, on a new turn, when the
buffer is committed or cleared by the client, on a client event that changes
the conversation, on a ``session.update`` that changes the response plan, and
when the session ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ...engines.base import LLMChunk, LLMRequest, TextDelta, ToolCallDelta, Transcription
from ...engines.stage import Stage, engine_stage
from ...protocol.errors import RealtimeError
from ..host.wire_events import item_dict
from .prompt import build_prompt
from .response_output import close_stream, speech_cut
from .truncation import HistoryWindow

if TYPE_CHECKING:
    from .response_plan import ResponsePlan
    from .session_context import SessionContext
    from .transcription import StreamingTranscriber

log = logging.getLogger("rtagents.server.speculation")

# Client events after which the held reply may no longer fit the conversation.
CONVERSATION_CHANGES = frozenset(
    {
        "conversation.item.create",
        "conversation.item.delete",
        "conversation.item.truncate",
        "input_audio_buffer.clear",
        "input_audio_buffer.commit",
        "response.create",
    }
)
# Silence (audio ms past the last voiced window) before a reply is prepared. The gaps
# between words that a VAD reports as silence end sooner (64-96 ms from the speech end
# on bench/felt_latency.py's Piper clips); each would otherwise start an LLM request
# that a single-slot engine must finish its prompt for before the real one can run.
# The transcript it waits for takes longer than this anyway.
SETTLE_MS = 150
MAX_HELD_CHUNKS = 256  # the LLM chunks held before the first clause ends (a bound, not a goal)


class PlanSource(Protocol):
    """What a speculation asks of the session's responder (a ``Responder``)."""

    def active(self) -> object | None: ...

    def plan_for(self, overrides: Any) -> ResponsePlan: ...


class HeldReply:
    """One speculation: the LLM's first chunks (its stream held open) and the first clause's audio.

    Owned by :class:`Speculation` until the turn is confirmed, then by the
    response it was handed to, which :meth:`claim`\\ s it or :meth:`discard`\\ s it.
    """

    def __init__(
        self,
        ctx: SessionContext,
        plan: ResponsePlan,
        item_id: str,
        transcript: asyncio.Task[Transcription],
    ) -> None:
        self.ctx = ctx
        self.plan = plan
        self.item_id = item_id  # the user item the confirmed turn will commit
        self.request: LLMRequest | None = None
        self.clause: str | None = None  # the first clause, as the writer will cut it
        self._chunks: list[LLMChunk] = []
        self._stream: AsyncIterator[LLMChunk] | None = None  # open, paused after the clause
        self._speech: list[bytes] = []
        self._failed = False
        self._claimed = False
        self._handed_over = False  # the stream now belongs to the response's replay
        self._speech_used = False
        self._prepared = asyncio.Event()
        self._released = asyncio.Event()
        self._task = ctx.spawn(self._life(transcript), "speculation")
        self._task.add_done_callback(lambda _: self._prepared.set())

    # --- the response's side ----------------------------------------------------------

    async def claim(self, request: LLMRequest) -> AsyncIterator[LLMChunk] | None:
        """The held LLM stream if ``request`` is the one it answers, else None (discarded)."""
        if self._claimed:
            return None
        self._claimed = True
        await self._prepared.wait()  # the response waits as it would for its own first chunks
        if self._failed or self.request != request or self._task.done():
            why = "failed" if self._failed else "nothing held" if self._task.done() else "differs"
            if why == "differs" and self.request is not None and log.isEnabledFor(logging.DEBUG):
                log.debug("held request %r, response request %r", self.request, request)
            log.debug("held reply for %s not used: %s", self.item_id, why)
            self.discard()
            await asyncio.wait([self._task])  # its LLM stream closed: the engine's slot is free
            return None
        log.debug("held reply for %s released", self.item_id)
        self._handed_over = True
        self._released.set()
        return self._replay()

    def speech(self, text: str, voice: str, speed: float) -> AsyncIterator[bytes] | None:
        """The held audio of the first clause, once, if it says ``text`` in that voice."""
        if self._speech_used or not self._handed_over or not self._speech:
            return None
        if text != self.clause or voice != self.plan.voice or speed != self.plan.speed:
            return None
        self._speech_used = True
        return _replayed(self._speech)

    def discard(self) -> None:
        """Drop everything and close the LLM stream it still holds; idempotent."""
        self._speech = []
        if not self._handed_over:
            self._chunks = []
            self._task.cancel()  # its ending closes the stream
            return
        stream, self._stream = self._stream, None
        if stream is not None:  # handed over, never replayed (the response was cut first)
            self.ctx.spawn(close_stream(stream), "speculation-close")

    # --- the speculation itself ---------------------------------------------------------

    async def _life(self, transcript: asyncio.Task[Transcription]) -> None:
        try:
            try:
                await self._prepare(transcript)
            finally:
                self._prepared.set()
            if self.request is not None:
                await self._released.wait()  # held until claimed; cancelled if discarded
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the response, run normally, reports any engine failure
            self._failed = True
            log.debug("speculation for %s failed: %r", self.item_id, exc)
        finally:
            if not self._handed_over and self._stream is not None:
                stream, self._stream = self._stream, None
                await close_stream(stream)

    async def _prepare(self, transcript: asyncio.Task[Transcription]) -> None:
        began = time.perf_counter()
        heard = await asyncio.shield(transcript)  # the commit reuses that transcription
        stages = {"transcript": time.perf_counter()}
        text = heard.text.strip()
        if not text:
            return
        request = await predicted_request(self.ctx, self.plan, self.item_id, text)
        engines = self.ctx.state.engines
        stream = engines.llm.stream(request)
        self._stream = stream
        pending = ""
        async for chunk in stream:
            stages.setdefault("first token", time.perf_counter())
            self._chunks.append(chunk)
            if isinstance(chunk, ToolCallDelta) or len(self._chunks) >= MAX_HELD_CHUNKS:
                break  # no speech to prepare: the chunks alone are held
            if isinstance(chunk, TextDelta):
                pending += chunk.text
                cut = speech_cut(pending, first=True)
                if cut:
                    self.clause = pending[:cut]
                    break
        else:  # the whole reply came before a clause end: the writer speaks it at the end
            self._stream = None
            self.clause = pending or None
        self.request = request
        stages["clause"] = time.perf_counter()
        if self.clause is not None and self.plan.audio and engines.tts is not None:
            plan = self.plan
            speech = engines.tts.synthesize(self.clause, voice=plan.voice, speed=plan.speed)
            try:
                with engine_stage(Stage.FIRST_SPEECH):  # released, it is the reply's first
                    self._speech = [pcm async for pcm in speech]
            finally:
                await close_stream(speech)
            stages["speech"] = time.perf_counter()
        if log.isEnabledFor(logging.DEBUG):  # where a speculation's time goes (the bench reads it)
            spent = ", ".join(f"{k} {(t - began) * 1000:.0f}" for k, t in stages.items())
            log.debug("held reply for %s prepared (ms after it began): %s", self.item_id, spent)

    async def _replay(self) -> AsyncIterator[LLMChunk]:
        stream, self._stream = self._stream, None
        chunks, self._chunks = self._chunks, []
        try:
            for chunk in chunks:
                yield chunk
            if stream is not None:
                async for chunk in stream:
                    yield chunk
        finally:
            if stream is not None:
                await close_stream(stream)


async def _replayed(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for pcm16 in pieces:
        yield pcm16


async def predicted_request(
    ctx: SessionContext, plan: ResponsePlan, item_id: str, text: str | None
) -> LLMRequest:
    """The request a response would send once ``item_id`` is committed with transcript ``text``
    (None: the conversation before that item alone, what a prompt prefill reads first).

    The conversation plus the coming user item, fitted on a fresh history
    window (the session's is not touched): when the session's window has cut
    nothing, this is the request the response will build; when it has, the two
    differ and the held reply is discarded.
    """
    # Once the turn is committed its item is already there (its text still to come):
    # it is left out, so the coming item is counted once, as the last.
    items: list[Any] = [item_dict(item) for item in ctx.conversation.items if item.id != item_id]
    if text is not None:
        coming = {"type": "message", "role": "user", "id": item_id}
        items.append({**coming, "content": [{"type": "input_text", "text": text}]})
    prompt = await build_prompt(ctx, dataclasses.replace(plan, input=items), HistoryWindow())
    return prompt.request


class Speculation:
    """A session's speculative reply: at most one held at a time (one per pause of a turn)."""

    enabled: ClassVar[bool] = True  # benches switch it off for the before/after comparison

    def __init__(self, ctx: SessionContext, responder: PlanSource) -> None:
        self._ctx = ctx
        self._responder = responder
        self._held: HeldReply | None = None

    @property
    def held(self) -> HeldReply | None:
        return self._held

    def begin(self, item_id: str | None, transcriber: StreamingTranscriber) -> None:
        """Silence began in a turn that will get a response: prepare its first clause."""
        self.cancel()
        ctx = self._ctx
        if not self.enabled or item_id is None:
            return
        if ctx.state.engines.stt is None:
            return  # nothing heard the turn
        transcript = speculative_transcript(transcriber)
        if transcript is None:
            return
        plan = predictable_plan(ctx, self._responder)
        if plan is not None:
            self._held = HeldReply(ctx, plan, item_id, transcript)

    def cancel(self) -> None:
        """Discard the held reply, if any (speech resumed, a new turn, the session ended...)."""
        held, self._held = self._held, None
        if held is not None:
            held.discard()

    def hand_over(self, item_id: str) -> HeldReply | None:
        """The turn of ``item_id`` was confirmed: its held reply, now the caller's to use."""
        held, self._held = self._held, None
        if held is not None and held.item_id != item_id:
            held.discard()
            return None
        return held

    def config_changed(self) -> None:
        """After ``session.update``: keep the held reply only if the response plan is unchanged."""
        held = self._held
        if held is None:
            return
        try:
            unchanged = self._responder.plan_for({}) == held.plan
        except RealtimeError:
            unchanged = False
        if not unchanged:
            self.cancel()


def predictable_plan(ctx: SessionContext, responder: PlanSource) -> ResponsePlan | None:
    """The plan of the response a turn ending now would start, if its request can be
    predicted: none while a response runs, for a transcription session, or with MCP tools."""
    if ctx.config.kind != "realtime" or responder.active() is not None:
        return None
    try:
        plan = responder.plan_for({})
    except RealtimeError:
        return None  # the response itself will report it
    if any(tool.get("type", "function") != "function" for tool in plan.tools):
        return None  # MCP tools are listed per response: no request to predict
    return plan


def speculative_transcript(transcriber: StreamingTranscriber) -> asyncio.Task[Transcription] | None:
    """The transcription :meth:`StreamingTranscriber.speculate` just started, if any."""
    return transcriber.speculative_task()
