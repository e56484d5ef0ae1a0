"""Input audio of one session: appends, a call's PCM, commits, clears, and turn detection.

Audio is kept as pcm16 at :data:`PCM_RATE` whatever the session's input
format. A commit turns the buffer into a user item at once; the STT engine
then transcribes it in the background (:mod:`.transcription`), so the model
can hear it and, when ``audio.input.transcription`` is set, the client gets
transcription events. Those may arrive after a response has started, as on
the hosted API. With turn detection on, :class:`.turns.Turns` commits by itself.
"""

from __future__ import annotations

import logging

from openai.types.realtime import (
    ConversationItemAdded,
    ConversationItemDone,
    InputAudioBufferAppendEvent,
    InputAudioBufferClearedEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    InputAudioBufferCommittedEvent,
)
from pydantic import BaseModel

from ...protocol.audio import PCM_RATE, b64_decoded_length, b64decode_audio, wire_to_pcm16
from ...protocol.errors import RemoteProtocolError
from ...protocol.limit_refusals import conversation_full_refusal
from ...protocol.resample import StreamResampler
from ..host.wire_events import build
from .item_builders import user_audio_item
from .noise_reduction import StreamingDenoiser, noise_kind
from .responder import Responder
from .session_context import SessionContext
from .transcription import start_transcription
from .turns import Turns

log = logging.getLogger("rtagents.server.input_audio")


class AudioIn:
    """Everything input audio goes through; owns turn detection (``turns``)."""

    def __init__(self, ctx: SessionContext, responder: Responder) -> None:
        self.ctx = ctx
        self.buffer = ctx.input
        self.turns = Turns(ctx, responder, commit=self.commit_audio)
        self._resamplers: dict[int, StreamResampler] = {}  # a call's track rate -> PCM_RATE
        self._denoiser: StreamingDenoiser | None = None

    async def append(self, event: InputAudioBufferAppendEvent) -> None:
        """``input_audio_buffer.append`` (size and buffer limits: the rules table)."""
        await self.receive(self.decode(event.audio, param="audio"))

    async def receive_pcm(self, pcm16: bytes, rate: int) -> None:
        """Caller audio at ``rate`` (a WebRTC track), straight to the buffer's rate.

        Never through the session's input format: a pcmu session's call keeps
        full-band audio.
        """
        if rate != PCM_RATE:
            resampler = self._resamplers.get(rate)
            if resampler is None:
                resampler = self._resamplers[rate] = StreamResampler(rate, PCM_RATE)
            pcm16 = resampler.process(pcm16)
        await self.receive(pcm16)

    async def receive(self, pcm16: bytes) -> None:
        """Input audio (pcm16, 24 kHz) into the buffer and through turn detection.

        Every way audio reaches a session (appends, a WebRTC call's track) comes
        here, so the VAD hears all of it and audio time counts all of it. With
        ``audio.input.noise_reduction`` set, it is denoised first: the VAD, the
        STT and the buffer all get the denoised audio (same length, no delay).
        """
        pcm16 = self._denoised(pcm16)
        if not self.buffer.append(pcm16):
            # Turn detection still hears it (a turn that never ends, or a call
            # without turn detection); the buffer just keeps what it holds.
            log.debug("input audio buffer full; %d bytes not buffered", len(pcm16))
        await self.turns.on_audio(pcm16)

    def _denoised(self, pcm16: bytes) -> bytes:
        """``pcm16`` through the session's denoiser (made anew when the setting changes)."""
        kind = noise_kind(self.ctx.config.noise_reduction)
        if kind is None:
            self._denoiser = None
            return pcm16
        if self._denoiser is None or self._denoiser.kind != kind:
            self._denoiser = StreamingDenoiser(kind)
        return self._denoiser.process(pcm16)

    def decode(self, audio: str, *, param: str) -> bytes:
        """Base64 audio in the session's input format -> pcm16 at the internal rate."""
        limit = self.ctx.state.config.limits.append_bytes
        size = b64_decoded_length(audio)
        if size > limit:  # an item's input_audio part (appends: the rules table)
            raise RemoteProtocolError(
                f"The audio is {size} bytes once decoded; one event may carry at most {limit} "
                "bytes. Send the audio in several smaller appends.",
                code="input_audio_too_large",
                param=param,
            )
        data = b64decode_audio(audio, param=param)
        fmt = self.ctx.config.input_format
        if fmt.encoding == "pcm16" and len(data) % 2:
            raise RemoteProtocolError(
                f"pcm16 audio must hold whole 16-bit samples, but {len(data)} bytes is odd. "
                "Check that each append carries complete samples.",
                code="invalid_value",
                param=param,
            )
        return wire_to_pcm16(data, fmt, PCM_RATE)

    async def commit(self, event: InputAudioBufferCommitEvent) -> None:
        """``input_audio_buffer.commit`` (a buffer under 100 ms: the rules table)."""
        pcm16 = self.buffer.take()
        item_id = self.turns.buffer_taken(committed=True)
        await self.commit_audio(item_id, pcm16)
        start_transcription(self.ctx, item_id, pcm16)

    async def commit_audio(self, item_id: str, pcm16: bytes) -> bool:
        """Turn committed audio into a user item (manual commit, VAD and idle timeout alike).

        Returns False when the conversation is full: then the turn's audio is
        dropped and the client told why (an ``error`` event; a manual commit
        never gets here, the rules refuse it first), so no transcription or
        response follows a turn that has no item.
        """
        ctx = self.ctx
        limit = ctx.state.config.limits.conversation_items
        if len(ctx.conversation) >= limit:
            await ctx.reply_error(conversation_full_refusal(limit, None).to_error())
            return False
        self.buffer.keep(item_id, pcm16)
        item = user_audio_item(item_id)

        def events() -> list[BaseModel]:
            previous = ctx.conversation.last_item_id
            return [
                build(InputAudioBufferCommittedEvent, previous_item_id=previous, item_id=item_id),
                build(ConversationItemAdded, previous_item_id=previous, item=item),
                build(ConversationItemDone, previous_item_id=previous, item=item),
            ]

        await ctx.emit_all(events)
        return True

    async def clear(self, event: InputAudioBufferClearEvent) -> None:
        self.buffer.clear()
        self.turns.buffer_taken(committed=False)
        await self.ctx.emit(build(InputAudioBufferClearedEvent))
