"""``input_audio_buffer.*`` and ``output_audio_buffer.clear``.

A commit turns the buffer into a user item at once; the STT engine then
transcribes it in the background (:mod:`.transcription`), so the model can
hear it and, when ``audio.input.transcription`` is set, the client gets
transcription events. Those may arrive after a response has started, as on
the hosted API. With turn detection on, :mod:`.turns` commits by itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from openai.types.realtime import (
    ConversationItemAdded,
    ConversationItemDone,
    InputAudioBufferAppendEvent,
    InputAudioBufferClearedEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    InputAudioBufferCommittedEvent,
    OutputAudioBufferClearEvent,
)
from pydantic import BaseModel

from ..protocol.audio import b64_decoded_length, b64decode_audio, wire_to_pcm16
from ..protocol.errors import RemoteProtocolError
from .input_audio import INTERNAL_RATE, MAX_BUFFER_BYTES, MIN_COMMIT_MS
from .items import build, user_audio_item
from .transcription import start_transcription

if TYPE_CHECKING:
    from .session import SessionHost

log = logging.getLogger("rtagents.server.input_audio")

__all__ = [
    "append",
    "clear",
    "clear_output",
    "commit",
    "commit_audio",
    "decode_input_audio",
    "receive_audio",
    "start_transcription",  # moved to .transcription; still importable from here
]


async def append(host: SessionHost, event: InputAudioBufferAppendEvent) -> None:
    pcm16 = decode_input_audio(host, event.audio, param="audio")
    full = host.input.buffered_bytes + len(pcm16) > MAX_BUFFER_BYTES
    if full and host.turns.settings is None:  # with turn detection the VAD must still hear it
        held_s = host.input.buffered_ms / 1000
        raise RemoteProtocolError(
            f"The input audio buffer is full: it holds {held_s:.0f} s of uncommitted audio, "
            f"the most one session may buffer. Commit it (input_audio_buffer.commit) or "
            "clear it before appending more, or turn on turn detection.",
            code="input_audio_buffer_full",
            param="audio",
        )
    await receive_audio(host, pcm16)


async def receive_audio(host: SessionHost, pcm16: bytes) -> None:
    """Input audio (pcm16, 24 kHz) into the buffer and through turn detection.

    Every way audio reaches a session (appends, a WebRTC call's track) comes
    here, so the VAD hears all of it and audio time counts all of it.
    """
    if not host.input.append(pcm16):
        # Turn detection still hears it (a turn that never ends, or a call
        # without turn detection); the buffer just keeps what it holds.
        log.debug("input audio buffer full; %d bytes not buffered", len(pcm16))
    await host.turns.on_audio(pcm16)


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
    item_id = host.turns.buffer_taken(committed=True)
    await commit_audio(host, item_id, pcm16)
    start_transcription(host, item_id, pcm16)


async def commit_audio(host: SessionHost, item_id: str, pcm16: bytes) -> None:
    """Turn committed audio into a user item (manual commit, VAD and idle timeout alike)."""
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


async def clear(host: SessionHost, event: InputAudioBufferClearEvent) -> None:
    host.input.clear()
    host.turns.buffer_taken(committed=False)
    await host.emit(build(InputAudioBufferClearedEvent))


async def clear_output(host: SessionHost, event: OutputAudioBufferClearEvent) -> None:
    if host.audio_sink is not None:  # a WebRTC call: the server plays, so it can stop
        await host.audio_sink.clear()
        return
    raise RemoteProtocolError(
        "output_audio_buffer.clear is only supported on WebRTC and SIP connections. On a "
        "WebSocket the client plays the audio: stop playback, send response.cancel, then "
        "conversation.item.truncate with the audio_end_ms that was heard.",
        code="unsupported_on_websocket",
        param="type",
    )
