"""``input_audio_buffer.*`` and ``output_audio_buffer.clear``.

A commit turns the buffer into a user item at once; the STT engine then
transcribes it in the background, so the model can hear it and, when
``audio.input.transcription`` is set, the client gets transcription events.
Those may arrive after a response has started, as on the hosted API.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from openai.types.realtime import (
    ConversationItemAdded,
    ConversationItemDone,
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionDeltaEvent,
    ConversationItemInputAudioTranscriptionFailedEvent,
    InputAudioBufferAppendEvent,
    InputAudioBufferClearedEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    InputAudioBufferCommittedEvent,
    OutputAudioBufferClearEvent,
)
from pydantic import BaseModel

from ..engines.base import EngineFailure
from ..protocol.audio import b64_decoded_length, b64decode_audio, resample_pcm16, wire_to_pcm16
from ..protocol.errors import RemoteProtocolError
from . import ids
from .input_audio import BYTES_PER_MS, INTERNAL_RATE, MIN_COMMIT_MS
from .items import build, user_audio_item

if TYPE_CHECKING:
    from .session import SessionHost

log = logging.getLogger("rtagents.server.audio")


async def append(host: SessionHost, event: InputAudioBufferAppendEvent) -> None:
    host.input.append(decode_input_audio(host, event.audio, param="audio"))


def decode_input_audio(host: SessionHost, audio: str, *, param: str) -> bytes:
    """Base64 audio in the session's input format -> pcm16 at the internal rate."""
    limit = host.state.config.max_append_bytes
    size = b64_decoded_length(audio)
    if size > limit:
        raise RemoteProtocolError(
            f"The audio is {size} bytes once decoded; one event may carry at most {limit} "
            "bytes. Send the audio in several smaller appends.",
            code="input_audio_too_large",
            param=param,
        )
    data = b64decode_audio(audio, param=param)
    fmt = host.config.input_format
    if fmt.encoding == "pcm16" and len(data) % 2:
        raise RemoteProtocolError(
            f"pcm16 audio must hold whole 16-bit samples, but {len(data)} bytes is odd. "
            "Check that each append carries complete samples.",
            code="invalid_value",
            param=param,
        )
    return wire_to_pcm16(data, fmt, INTERNAL_RATE)


async def commit(host: SessionHost, event: InputAudioBufferCommitEvent) -> None:
    buffered = host.input.buffered_ms
    if buffered < MIN_COMMIT_MS:
        raise RemoteProtocolError(
            "Error committing input audio buffer: buffer too small. Expected at least "
            f"{MIN_COMMIT_MS}ms of audio, but buffer only has {buffered:.2f}ms of audio.",
            code="input_audio_buffer_commit_empty",
        )
    pcm16 = host.input.take()
    item_id = ids.item_id()
    host.input.keep(item_id, pcm16)
    item = user_audio_item(item_id)

    def events() -> list[BaseModel]:
        previous = host.conversation.last_item_id
        return [
            build(InputAudioBufferCommittedEvent, previous_item_id=previous, item_id=item_id),
            build(ConversationItemAdded, previous_item_id=previous, item=item),
            build(ConversationItemDone, previous_item_id=previous, item=item),
        ]

    await host.emit_all(events)
    start_transcription(host, item_id, pcm16)


async def clear(host: SessionHost, event: InputAudioBufferClearEvent) -> None:
    host.input.clear()
    await host.emit(build(InputAudioBufferClearedEvent))


async def clear_output(host: SessionHost, event: OutputAudioBufferClearEvent) -> None:
    raise RemoteProtocolError(
        "output_audio_buffer.clear is only supported on WebRTC and SIP connections. On a "
        "WebSocket the client plays the audio: stop playback, send response.cancel, then "
        "conversation.item.truncate with the audio_end_ms that was heard.",
        code="unsupported_on_websocket",
        param="type",
    )


def start_transcription(host: SessionHost, item_id: str, pcm16: bytes) -> None:
    """Transcribe an item's audio in the background (see :meth:`InputAudio.heard`)."""
    settings = host.config.transcription
    task = host.spawn(_transcribe(host, item_id, pcm16, settings), f"stt-{item_id}")
    host.input.transcripts[item_id] = task


async def _transcribe(
    host: SessionHost, item_id: str, pcm16: bytes, settings: Mapping[str, Any] | None
) -> str | None:
    stt = host.state.engines.stt
    if stt is None:
        await _failed(
            host,
            item_id,
            settings,
            "This server has no STT engine, so input audio cannot be transcribed; send "
            "text items instead, or run the server with an STT engine.",
        )
        return None
    language = settings.get("language") if settings else None
    try:
        audio = resample_pcm16(pcm16, INTERNAL_RATE, stt.sample_rate)
        result = await stt.transcribe(audio, language=language)
    except EngineFailure as exc:
        await _failed(host, item_id, settings, f"{exc} {exc.hint}".strip())
        return None
    except Exception as exc:
        log.exception("STT engine failed on %s", item_id)
        await _failed(host, item_id, settings, f"The STT engine failed: {exc!r}")
        return None
    if settings is not None:
        seconds = len(pcm16) / BYTES_PER_MS / 1000
        await host.emit(
            build(
                ConversationItemInputAudioTranscriptionDeltaEvent,
                item_id=item_id,
                content_index=0,
                delta=result.text,
            )
        )
        await host.emit(
            build(
                ConversationItemInputAudioTranscriptionCompletedEvent,
                item_id=item_id,
                content_index=0,
                transcript=result.text,
                usage={"type": "duration", "seconds": round(seconds, 3)},
            )
        )
    return result.text


async def _failed(
    host: SessionHost, item_id: str, settings: Mapping[str, Any] | None, message: str
) -> None:
    """Tell the client a transcription it asked for failed (silence if it did not ask)."""
    if settings is None:
        return
    await host.emit(
        build(
            ConversationItemInputAudioTranscriptionFailedEvent,
            item_id=item_id,
            content_index=0,
            error={"type": "server_error", "code": "transcription_failed", "message": message},
        )
    )
