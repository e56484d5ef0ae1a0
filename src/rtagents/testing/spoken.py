"""Speak into a session as a person would, and time what comes back.

A spoken turn streams pcm16 in small chunks at real-time pace (a person
cannot talk faster than the clock), followed by silence so the server's turn
detection can find the end, and meanwhile reads the session's events until
the response that answers it is done. Every mark is the moment the *app* saw
the event (``time.perf_counter``), so the breakdown is what a user of the
client would measure. The demo and ``bench/voice_latency.py`` share it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ..protocol.audio import PCM16_24K, PCM_RATE, AudioFormat, pcm16_to_wire

DEFAULT_CHUNK_MS = 20
# Long enough for server_vad's default 500 ms silence window plus slack.
DEFAULT_TRAILING_SILENCE_MS = 1500


@dataclass
class TurnTiming:
    """When each milestone of one spoken turn was seen, in ms after speech ended."""

    speech_end_sent: float = 0.0  # perf_counter when the last speech chunk went out
    marks: dict[str, float] = field(default_factory=dict)  # name -> perf_counter

    def since_speech_stopped(self, name: str) -> float | None:
        """Milliseconds from ``speech_stopped`` to milestone ``name`` (None if unseen)."""
        start, mark = self.marks.get("speech_stopped"), self.marks.get(name)
        if start is None or mark is None:
            return None
        return (mark - start) * 1000


@dataclass
class SpokenTurn:
    """The outcome of one spoken turn: what was heard, what was said back, when."""

    transcript: str = ""
    reply: str = ""
    reply_audio: bytearray = field(default_factory=bytearray)  # wire bytes, output format
    status: str = ""
    errors: list[str] = field(default_factory=list)
    timing: TurnTiming = field(default_factory=TurnTiming)


# Which event marks which milestone (the first occurrence counts).
_MILESTONES = {
    "input_audio_buffer.speech_started": "speech_started",
    "input_audio_buffer.speech_stopped": "speech_stopped",
    "input_audio_buffer.committed": "committed",
    "conversation.item.input_audio_transcription.completed": "transcript_final",
    "response.created": "response_created",
    "response.output_audio_transcript.delta": "first_transcript_delta",
    "response.output_text.delta": "first_text_delta",
    "response.output_audio.delta": "first_audio",
    "response.done": "response_done",
}


async def stream_speech(
    session: Any,
    pcm16: bytes,
    *,
    chunk_ms: int = DEFAULT_CHUNK_MS,
    trailing_silence_ms: int = DEFAULT_TRAILING_SILENCE_MS,
    input_format: AudioFormat = PCM16_24K,
    realtime: bool = True,
) -> float:
    """Send ``pcm16`` (24 kHz) then silence, paced like a microphone.

    Returns the ``perf_counter`` at which the last chunk of speech was sent.
    Pacing uses absolute deadlines, so scheduling jitter does not add up.
    """
    step = PCM16_24K.bytes_for_ms(chunk_ms)
    audio = pcm16 + bytes(PCM16_24K.bytes_for_ms(trailing_silence_ms))
    speech_end = time.perf_counter()
    began = time.perf_counter()
    for index, offset in enumerate(range(0, len(audio), step)):
        chunk = audio[offset : offset + step]
        await session.append_audio(pcm16_to_wire(chunk, PCM_RATE, input_format))
        if offset < len(pcm16):
            speech_end = time.perf_counter()
        if realtime:
            deadline = began + (index + 1) * chunk_ms / 1000
            await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
    return speech_end


async def spoken_turn(
    session: Any,
    pcm16: bytes,
    *,
    chunk_ms: int = DEFAULT_CHUNK_MS,
    trailing_silence_ms: int = DEFAULT_TRAILING_SILENCE_MS,
    input_format: AudioFormat = PCM16_24K,
    expect_transcript: bool = True,
    timeout_s: float = 60.0,
) -> SpokenTurn:
    """Speak ``pcm16`` into a session with server turn detection; wait for the reply.

    The input transcription runs beside the response and may finish after it
    (as on the hosted API), so with ``expect_transcript`` the turn also waits
    for ``…transcription.completed`` or ``.failed``.
    """
    turn = SpokenTurn()
    sender = asyncio.create_task(
        stream_speech(
            session,
            pcm16,
            chunk_ms=chunk_ms,
            trailing_silence_ms=trailing_silence_ms,
            input_format=input_format,
        )
    )
    try:
        await asyncio.wait_for(_collect(session, turn, expect_transcript), timeout_s)
        turn.timing.speech_end_sent = await sender
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
    return turn


async def _collect(session: Any, turn: SpokenTurn, expect_transcript: bool) -> None:
    heard = not expect_transcript
    done = False
    async for event in session:
        etype = getattr(event, "type", "")
        milestone = _MILESTONES.get(etype)
        if milestone is not None:
            turn.timing.marks.setdefault(milestone, time.perf_counter())
        done = _absorb(event, etype, turn) or done
        heard = (
            heard
            or etype.startswith("conversation.item.input_audio_transcription.")
            and (etype.endswith((".completed", ".failed")))
        )
        if done and heard:
            return
    raise ConnectionError("the session closed before the reply finished")


def _absorb(event: Any, etype: str, turn: SpokenTurn) -> bool:
    """Fold one event into the turn; True once the response is done."""
    from ..protocol.audio import b64decode_audio

    if etype == "conversation.item.input_audio_transcription.completed":
        turn.transcript = event.transcript
    elif etype in ("response.output_audio_transcript.delta", "response.output_text.delta"):
        turn.reply += event.delta
    elif etype == "response.output_audio.delta":
        turn.reply_audio += b64decode_audio(event.delta)
    elif etype == "conversation.item.input_audio_transcription.failed":
        turn.errors.append(f"transcription failed: {event.error.message}")
    elif etype == "error":
        turn.errors.append(f"{event.error.code}: {event.error.message}")
    elif etype == "response.done":
        turn.status = event.response.status or ""
        return True
    return False


def server_latencies(app: Any, session_id: str | None) -> dict[str, float | None]:
    """The server's own marks (ms after ``speech_stopped``) for a session's latest turn.

    Only for a server running in this process (the demo, the benchmark): its
    marks are ``perf_counter`` readings on the same clock as the client's.
    """
    from ..server.app import server_state

    for host in server_state(app).sessions:
        turns = getattr(host.backend, "turns", None)  # the local backend's turn detection
        if host.id == session_id and turns is not None and turns.marks:
            latencies: dict[str, float | None] = turns.marks[-1].latencies_ms()
            return latencies
    return {}
