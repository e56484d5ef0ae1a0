"""Speculative replies under server VAD: held during the silence, released or dropped unseen.

A real server (in process, memory transport) runs the scripted model behind
recorders that note *how much audio the client had sent* when each engine
call began and whether its stream was closed; the client streams in lock step
(``vad_harness``), so "before ``speech_stopped``" is exact audio time, never a
wall clock.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from server_harness import RawClient, memory_session
from vad_harness import Streamer, configure, speech

from rtagents.engines.base import Engines, LLMChunk, LLMRequest
from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.engines.stage import Stage, current_stage
from rtagents.server.config import ServerConfig
from rtagents.server.local.speculation import SETTLE_MS, Speculation
from rtagents.server.serving import RunningServer, running_server

REPLY = "Hi there, nice to meet you. How are you today?"
FIRST_CLAUSE = "Hi there, "  # the writer cuts after the comma, space and all
PLAIN = "The capital of France is Paris."  # no clause ends before its last word
RULES = [Rule("stop", Say("Stopping now.")), Rule("hello", Say(REPLY)), Rule("paris", Say(PLAIN))]
SILENCE_MS = 600  # the window; the scripted engines finish well inside it


@dataclass
class Call:
    sent_ms: float  # audio the client had appended when the call began
    what: Any
    closed: bool = False
    stage: Stage | None = None  # what the call serves (engines/stage.py), read as it ran


@dataclass
class Recorder:
    """Audio time on the client's side, read by the engine wrappers when called."""

    streamer: Streamer | None = None
    llm: list[Call] = field(default_factory=list)
    tts: list[Call] = field(default_factory=list)

    def now(self) -> float:
        return self.streamer.sent_ms if self.streamer is not None else -1.0


class RecordingLLM:
    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        call = Call(self._recorder.now(), request)
        self._recorder.llm.append(call)
        return _closing(self._inner.stream(request), call)


class RecordingTTS:
    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def synthesize(self, text: str, *, voice: str, speed: float = 1.0) -> AsyncIterator[bytes]:
        call = Call(self._recorder.now(), text)
        self._recorder.tts.append(call)
        return _closing(self._inner.synthesize(text, voice=voice, speed=speed), call)


async def _closing(stream: Any, call: Call) -> AsyncIterator[Any]:
    try:
        call.stage = current_stage()  # the stage of the task iterating the stream
        async for item in stream:
            yield item
    finally:
        call.closed = True
        await stream.aclose()


class GatedSTT:
    """The scripted STT, answering only once ``gate`` is open (a slow transcription)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.gate = asyncio.Event()
        self.gate.set()
        self.stages: list[Stage] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def transcribe(self, audio: bytes, **options: Any) -> Any:
        self.stages.append(current_stage())
        await self.gate.wait()
        return await self._inner.transcribe(audio, **options)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def stt() -> GatedSTT:
    return GatedSTT(scripted_engines().stt)


@pytest.fixture
async def server(recorder: Recorder, stt: GatedSTT) -> AsyncIterator[RunningServer]:
    inner = scripted_engines(RULES)
    engines = Engines(
        llm=RecordingLLM(inner.llm, recorder),  # type: ignore[arg-type]
        tts=RecordingTTS(inner.tts, recorder),  # type: ignore[arg-type]
        stt=stt,  # type: ignore[arg-type]
        vad=inner.vad,
        name="scripted",
    )
    async with running_server(ServerConfig(port=0), engines) as running:
        yield running


async def turn(client: RawClient, recorder: Recorder, *parts: bytes) -> Streamer:
    """Stream ``parts`` then silence until speech_stopped; read on to response.done."""
    await configure(client, {"type": "server_vad", "silence_duration_ms": SILENCE_MS})
    streamer = Streamer(client)
    recorder.streamer = streamer
    for part in parts:
        await streamer.send(part)
    await streamer.quiet_until("input_audio_buffer.speech_stopped", limit_ms=SILENCE_MS + 500)
    await streamer.until("response.done")
    return streamer


def response_events(streamer: Streamer) -> list[Any]:
    return [e for e in streamer.events() if e.type.startswith("response.")]


def audio_of(events: list[Any]) -> bytes:
    return b"".join(
        base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
    )


def speculated(recorder: Recorder, stopped_ms: float) -> list[Call]:
    return [c for c in recorder.llm if c.sent_ms < stopped_ms]


async def test_a_confirmed_turn_releases_the_held_reply_unchanged(
    server: RunningServer, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with memory_session(server) as client:
        fast = await turn(client, recorder, speech("hello", lead_ms=200))
    stopped = fast.first("input_audio_buffer.speech_stopped").sent_ms
    # The LLM ran and the first clause was spoken during the silence, before the
    # turn ended; after speech_stopped no engine call was needed for the first audio.
    assert [c.sent_ms < stopped for c in recorder.llm] == [True]
    first_tts = recorder.tts[0]
    assert first_tts.what == FIRST_CLAUSE and first_tts.sent_ms < stopped
    assert FIRST_CLAUSE not in [c.what for c in recorder.tts[1:]]
    done = fast.events("response.done")[0].response
    assert done.status == "completed"
    assert done.output[0].content[0].transcript == REPLY

    # The same turn without speculation: the same events, transcript and audio.
    monkeypatch.setattr(Speculation, "enabled", False)
    recorder.llm.clear()
    recorder.tts.clear()
    async with memory_session(server) as client:
        plain = await turn(client, recorder, speech("hello", lead_ms=200))
    plain_stopped = plain.first("input_audio_buffer.speech_stopped").sent_ms
    assert [c.sent_ms < plain_stopped for c in recorder.llm] == [False]
    fast_events, plain_events = response_events(fast), response_events(plain)
    assert [e.type for e in fast_events] == [e.type for e in plain_events]
    assert audio_of(fast_events) == audio_of(plain_events)
    assert plain.events("response.done")[0].response.output[0].content[0].transcript == REPLY
    assert fast.types().index("response.created") > fast.types().index(
        "input_audio_buffer.committed"
    )


async def test_engine_calls_say_how_near_they_are_to_first_audio(
    server: RunningServer, recorder: Recorder, stt: GatedSTT, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shared engines order their work by it (engines/local/cpu_gate.py): the turn's
    transcript and the reply's first speech, held or not, before the rest of the reply."""
    async with memory_session(server) as client:
        await turn(client, recorder, speech("hello", lead_ms=200))
    assert stt.stages and set(stt.stages) == {Stage.TURN_END}
    held = [(c.what, c.stage) for c in recorder.tts]
    assert held[0] == (FIRST_CLAUSE, Stage.FIRST_SPEECH)
    assert held[1:] and {stage for _, stage in held[1:]} == {Stage.SPEECH}

    monkeypatch.setattr(Speculation, "enabled", False)
    recorder.tts.clear()
    async with memory_session(server) as client:
        await turn(client, recorder, speech("hello", lead_ms=200))
    spoken = [c.stage for c in recorder.tts]
    assert spoken[0] is Stage.FIRST_SPEECH and set(spoken[1:]) == {Stage.SPEECH}


async def test_a_reply_without_an_early_clause_end_holds_its_first_words(
    server: RunningServer, recorder: Recorder
) -> None:
    """The held speech is the writer's first speech: its first words, not a whole clause."""
    async with memory_session(server) as client:
        streamer = await turn(client, recorder, speech("paris", lead_ms=200))
    stopped = streamer.first("input_audio_buffer.speech_stopped").sent_ms
    spoken = [(c.what, c.sent_ms < stopped) for c in recorder.tts]
    assert spoken == [("The capital of", True), (" France is Paris.", False)]
    done = streamer.events("response.done")[0].response
    assert done.status == "completed"
    assert done.output[0].content[0].transcript == PLAIN


async def test_speech_resuming_discards_the_held_reply_unseen(
    server: RunningServer, recorder: Recorder
) -> None:
    async with memory_session(server) as client:
        await configure(client, {"type": "server_vad", "silence_duration_ms": SILENCE_MS})
        streamer = Streamer(client)
        recorder.streamer = streamer
        await streamer.send(speech("hello", lead_ms=200, tail_ms=SILENCE_MS // 2))
        # A pause shorter than the window: a reply was prepared for "hello" ...
        assert len(recorder.llm) == 1
        assert recorder.tts and recorder.tts[0].what == FIRST_CLAUSE
        held_types = streamer.types()
        await streamer.send(speech(" stop"))
        # ... and the user went on: it is gone, and nothing of it was sent.
        assert recorder.llm[0].closed
        assert not [t for t in held_types if t.startswith(("response.", "conversation.item"))]
        await streamer.quiet_until("input_audio_buffer.speech_stopped", limit_ms=2 * SILENCE_MS)
        await streamer.until("response.done")
    assert streamer.types().count("response.created") == 1
    done = streamer.events("response.done")[0].response
    assert done.status == "completed"
    assert done.output[0].content[0].transcript == "Stopping now."
    final = recorder.llm[-1].what.messages[-1].content
    assert "hello" in final and "stop" in final


@pytest.mark.parametrize("change", ["item", "instructions"])
async def test_a_change_during_the_silence_discards_the_held_reply(
    server: RunningServer, recorder: Recorder, change: str
) -> None:
    async with memory_session(server) as client:
        await configure(client, {"type": "server_vad", "silence_duration_ms": SILENCE_MS})
        streamer = Streamer(client)
        recorder.streamer = streamer
        await streamer.send(speech("hello", lead_ms=200, tail_ms=SETTLE_MS + 50))
        assert len(recorder.llm) == 1  # held for "hello"
        if change == "item":
            item = {"type": "message", "role": "user", "content": [{"type": "input_text"}]}
            item["content"][0]["text"] = "stop"
            await client.send({"type": "conversation.item.create", "item": item})
        else:
            update = {"type": "realtime", "instructions": "Answer in one word."}
            await client.send({"type": "session.update", "session": update})
        await streamer.mark()
        assert recorder.llm[0].closed
        await streamer.quiet_until("input_audio_buffer.speech_stopped", limit_ms=SILENCE_MS + 500)
        await streamer.until("response.done")
    assert len(recorder.llm) == 2  # the response asked the model afresh
    request = recorder.llm[1].what
    if change == "item":
        assert [m.content for m in request.messages] == ["stop", "hello"]
    else:
        assert request.instructions == "Answer in one word."
    assert streamer.events("response.done")[0].response.status == "completed"


async def test_a_session_update_that_keeps_the_plan_keeps_the_held_reply(
    server: RunningServer, recorder: Recorder
) -> None:
    async with memory_session(server) as client:
        await configure(client, {"type": "server_vad", "silence_duration_ms": SILENCE_MS})
        streamer = Streamer(client)
        recorder.streamer = streamer
        await streamer.send(speech("hello", lead_ms=200, tail_ms=SETTLE_MS + 50))
        await client.send({"type": "session.update", "session": {"type": "realtime"}})
        await streamer.mark()
        await streamer.quiet_until("input_audio_buffer.speech_stopped", limit_ms=SILENCE_MS + 500)
        await streamer.until("response.done")
    assert len(recorder.llm) == 1
    assert streamer.events("response.done")[0].response.status == "completed"


async def test_every_turn_of_a_conversation_uses_its_held_reply(
    server: RunningServer, recorder: Recorder
) -> None:
    async with memory_session(server) as client:
        await configure(client, {"type": "server_vad", "silence_duration_ms": SILENCE_MS})
        streamer = Streamer(client)
        recorder.streamer = streamer
        for nth, words in enumerate(["hello", "hello again"], 1):
            await streamer.send(speech(words, lead_ms=200))
            await streamer.quiet_until("input_audio_buffer.speech_stopped", nth=nth)
            await streamer.until("rate_limits.updated", nth=nth)
    stops = [s.sent_ms for s in streamer.seen if s.event.type.endswith("speech_stopped")]
    # One request per turn, each made during its own silence: both held replies were used.
    assert len(recorder.llm) == 2
    assert recorder.llm[0].sent_ms < stops[0] < recorder.llm[1].sent_ms < stops[1]
    assert [m.role for m in recorder.llm[1].what.messages] == ["user", "assistant", "user"]
    assert [e.response.status for e in streamer.events("response.done")] == ["completed"] * 2


async def test_a_transcript_that_comes_after_the_commit_still_uses_the_held_reply(
    server: RunningServer, recorder: Recorder, stt: GatedSTT
) -> None:
    """The held reply's request is built once the turn's item is already there."""
    stt.gate.clear()
    async with memory_session(server) as client:
        await configure(client, {"type": "server_vad", "silence_duration_ms": SILENCE_MS})
        streamer = Streamer(client)
        recorder.streamer = streamer
        await streamer.send(speech("hello", lead_ms=200))
        await streamer.quiet_until("input_audio_buffer.speech_stopped")
        await streamer.until("input_audio_buffer.committed")
        assert recorder.llm == []  # everything waits for the transcript
        stt.gate.set()
        await streamer.until("response.done")
    assert len(recorder.llm) == 1  # the response took the held reply: no second request
    assert [m.content for m in recorder.llm[0].what.messages] == ["hello"]
    done = streamer.events("response.done")[0].response
    assert done.status == "completed"
    assert done.output[0].content[0].transcript == REPLY


async def test_a_gap_between_words_prepares_no_reply(
    server: RunningServer, recorder: Recorder
) -> None:
    async with memory_session(server) as client:
        await configure(client, {"type": "server_vad", "silence_duration_ms": SILENCE_MS})
        streamer = Streamer(client)
        recorder.streamer = streamer
        await streamer.send(speech("hello", lead_ms=200, tail_ms=SETTLE_MS - 50))
        await streamer.send(speech(" there"))
        assert recorder.llm == []  # the gap was shorter than SETTLE_MS: no request began
        await streamer.quiet_until("input_audio_buffer.speech_stopped", limit_ms=SILENCE_MS + 500)
        await streamer.until("response.done")
    assert len(recorder.llm) == 1  # the reply to the whole turn, prepared in its silence
    assert recorder.llm[0].sent_ms < streamer.first("input_audio_buffer.speech_stopped").sent_ms
