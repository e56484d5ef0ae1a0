"""The whole embedded pipeline behind the session host: real speech in, real speech out.

Piper speaks the user's side (synthesised here, no audio files); the server
runs Silero VAD, Whisper, the embedded SmolLM2 and Piper. What a 135M model
says is not checked, only that the turn runs end to end in the session's
formats and that a barge-in stops everything at once.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from server_harness import memory_session
from vad_harness import Streamer, configure, silence

from rtagents.engines.base import Engines
from rtagents.engines.local.factory import local_engines
from rtagents.engines.local.piper_tts import PiperTTS
from rtagents.engines.warmup import WarmUp, close_engines
from rtagents.protocol.audio import PCMU, pcm16_to_wire
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server

QUESTION = "What is the weather like today?"
PCMU_WIRE = {"type": "audio/pcmu"}


# One loop for the module: the engines are loaded once, and the LLM client's
# connection pool belongs to the loop that opened it.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engines() -> AsyncIterator[Engines]:
    engines = local_engines()
    await WarmUp(engines).wait()
    yield engines
    await close_engines(engines)


@pytest.fixture(scope="module")
def question() -> bytes:
    """The question as pcm16 at 24 kHz, between short silences."""

    async def synthesize() -> bytes:
        chunks = [c async for c in PiperTTS(variation=0.0).synthesize(QUESTION, voice="alloy")]
        return b"".join(chunks)

    return silence(300) + asyncio.run(synthesize()) + silence(700)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


async def test_a_pcmu_session_runs_the_whole_local_pipeline(
    engines: Engines, question: bytes
) -> None:
    """G.711 mu-law in and out: VAD, transcription, an answer, and 8 kHz speech back."""
    async with running_server(ServerConfig(port=0), engines) as server:
        async with memory_session(server) as client:
            audio = {
                "input": {"format": PCMU_WIRE, "transcription": {"model": "whisper-1"}},
                "output": {"format": PCMU_WIRE, "voice": "cedar"},
            }
            await configure(client, {"type": "server_vad"}, audio=audio, max_output_tokens=40)
            stream = Streamer(client)
            await stream.send(pcm16_to_wire(question, 24_000, PCMU), bytes_per_ms=8)
            await stream.quiet_until("input_audio_buffer.speech_stopped")
            heard = await stream.until("conversation.item.input_audio_transcription.completed")
            done = await stream.until("response.done")
    assert words(heard.event.transcript) == words(QUESTION)
    assert done.event.response.status in ("completed", "incomplete")
    deltas = stream.events("response.output_audio.delta")
    mulaw = b"".join(base64.b64decode(d.delta) for d in deltas)
    assert len(mulaw) > 8000 * 0.3  # at least 0.3 s of 8 kHz speech (one byte per sample)
    spoken = "".join(d.delta for d in stream.events("response.output_audio_transcript.delta"))
    transcript_done = stream.events("response.output_audio_transcript.done")[0].transcript
    assert spoken == transcript_done and words(spoken)


async def test_speech_during_a_reply_cancels_it_with_no_stale_audio(
    engines: Engines, question: bytes
) -> None:
    """Barge-in on real engines: the reply stops mid-speech and not one delta follows."""
    long_answer = "Answer with a long story of at least ten sentences."
    async with running_server(ServerConfig(port=0), engines) as server:
        async with memory_session(server) as client:
            detection = {"type": "server_vad", "interrupt_response": True}
            await configure(client, detection, instructions=long_answer, max_output_tokens=400)
            stream = Streamer(client)
            await stream.send(question)
            await stream.quiet_until("input_audio_buffer.speech_stopped")
            first_audio = await stream.until("response.output_audio.delta")
            await stream.send(question)  # the user talks over the reply
            cancelled = await stream.until("response.done")
    response_id = first_audio.event.response_id
    assert cancelled.event.response.id == response_id
    assert cancelled.event.response.status == "cancelled"
    types = stream.types()
    barge_in = types.index("input_audio_buffer.speech_started", types.index("response.created"))
    stale = [
        e
        for e in stream.events()[barge_in:]
        if e.type == "response.output_audio.delta" and e.response_id == response_id
    ]
    assert stale == []
