"""The input audio buffer, the audio of committed user items, and what clients' items hold.

Audio is kept as pcm16 at 24 kHz whatever the session's input format, so a
format change between appends cannot corrupt the buffer and the STT engine
gets one well-defined signal. Transcriptions run as background tasks keyed by
item id; a response that needs an item's words waits for its task.
"""

from __future__ import annotations

import asyncio

from ...protocol.audio import PCM_RATE
from ..host.limits import Limits

BYTES_PER_MS = PCM_RATE * 2 // 1000  # the buffer is pcm16 at PCM_RATE
# Committed audio is kept for conversation.item.retrieve, newest first, up to
# this much (about 11 minutes at 24 kHz); older items' audio is let go.
KEPT_AUDIO_BYTES = 32 * 2**20
# The uncommitted buffer holds at most this much by default (limits.input_buffer_bytes:
# 15 MiB, about 5.5 minutes at 24 kHz). Turn detection lets old silence go long
# before; without it, the client must commit or clear.
MAX_BUFFER_BYTES = Limits().input_buffer_bytes


class InputAudio:
    """Uncommitted audio, committed audio per item, and pending transcriptions.

    It also keeps the session's memory ledger (:attr:`held_bytes`): the bytes
    of input audio and of client-created items' texts, which the rules weigh
    against ``limits.session_memory_bytes``.
    """

    def __init__(self, limit_bytes: int | None = None, budget_bytes: int | None = None) -> None:
        self.limit_bytes = MAX_BUFFER_BYTES if limit_bytes is None else limit_bytes
        # limits.session_memory_bytes: what the memory ledger may reach (None: no bound).
        self.budget_bytes = budget_bytes
        self._buffer = bytearray()
        self._audio: dict[str, bytes] = {}
        self._kept_bytes = 0
        self._item_bytes: dict[str, int] = {}
        self._items_total = 0
        self.transcripts: dict[str, asyncio.Task[str | None]] = {}

    def append(self, pcm16: bytes) -> bool:
        """Buffer ``pcm16``; False (and nothing buffered) if it would pass a limit.

        The rules refuse such appends before they come here when turn detection
        is off; with it on, the VAD still hears the audio and the buffer keeps
        what it holds.
        """
        if len(self._buffer) + len(pcm16) > self.limit_bytes:
            return False
        if self.budget_bytes is not None and self.held_bytes + len(pcm16) > self.budget_bytes:
            return False
        self._buffer += pcm16
        return True

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    @property
    def limit_ms(self) -> float:
        """The most uncommitted audio the buffer holds."""
        return self.limit_bytes / BYTES_PER_MS

    @property
    def held_bytes(self) -> int:
        """What clients made this session hold: buffered and kept audio, items' texts."""
        return len(self._buffer) + self._kept_bytes + self._items_total

    def note_item(self, item_id: str, text_bytes: int) -> None:
        """Count a client-created item's texts until it is deleted."""
        self._items_total += text_bytes - self._item_bytes.get(item_id, 0)
        self._item_bytes[item_id] = text_bytes

    @property
    def buffered_ms(self) -> float:
        return len(self._buffer) / BYTES_PER_MS

    def take(self, end: int | None = None, *, start: int = 0) -> bytes:
        """Remove the buffer's first ``end`` bytes (all by default), returning ``[start:end]``.

        Turn detection commits one utterance and keeps what came after it.
        """
        data = bytes(self._buffer[start:end])
        del self._buffer[:end]
        return data

    def peek(self, start: int = 0, end: int | None = None) -> bytes:
        """A copy of ``[start:end]`` of the buffer, which stays as it is."""
        return bytes(self._buffer[start:end])

    def clear(self) -> None:
        self._buffer.clear()

    def keep(self, item_id: str, pcm16: bytes) -> None:
        """Remember an item's audio, letting the oldest go past :data:`KEPT_AUDIO_BYTES`."""
        self.forget_audio(item_id)  # kept again: counted once
        self._audio[item_id] = pcm16
        self._kept_bytes += len(pcm16)
        while self._kept_bytes > KEPT_AUDIO_BYTES and len(self._audio) > 1:
            oldest = next(iter(self._audio))
            self._kept_bytes -= len(self._audio.pop(oldest))

    def audio(self, item_id: str) -> bytes | None:
        return self._audio.get(item_id)

    def forget_audio(self, item_id: str) -> None:
        audio = self._audio.pop(item_id, None)
        if audio is not None:
            self._kept_bytes -= len(audio)

    def forget(self, item_id: str) -> None:
        """Drop what is kept for a deleted item, its transcription included."""
        self.forget_audio(item_id)
        self._items_total -= self._item_bytes.pop(item_id, 0)
        task = self.transcripts.pop(item_id, None)
        if task is not None:
            task.cancel()

    async def heard(self, item_id: str) -> str | None:
        """The STT transcript of an item's audio, waiting for it if still running."""
        task = self.transcripts.get(item_id)
        if task is None:
            return None
        try:
            # Shielded: a cancelled response must not cancel the transcription.
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                return None
            raise
        except Exception:
            return None
