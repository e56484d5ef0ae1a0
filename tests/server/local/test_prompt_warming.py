"""Prompt prefills during a voice turn: the LLM reads the coming request's start, unseen.

A real server (in process, memory transport) runs the scripted model behind an
LLM that also has the embedded engine's ``prefill`` seam and records, for each
call, how much audio the client had sent (the client streams in lock step, so
"before ``speech_stopped``" is exact audio time, never a wall clock).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from server_harness import memory_session
from vad_harness import Streamer, configure, speech

from rtagents.engines.base import Engines, LLMRequest
from rtagents.engines.scripted import scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.local.prompt_warming import PromptWarmer
from rtagents.server.serving import RunningServer, running_server

LONG = "The quick brown fox jumps over the lazy dog, twice."  # 2.55 s: two partials


@dataclass
class PrefillingLLM:
    """The scripted LLM plus ``prefill``; each prefill is noted and waits for ``gate``."""

    inner: Any
    streamer: Streamer | None = None
    prefills: list[tuple[float, LLMRequest, str]] = field(default_factory=list)
    streams: list[LLMRequest] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stream(self, request: LLMRequest) -> Any:
        self.streams.append(request)
        return self.inner.stream(request)

    async def prefill(self, request: LLMRequest, words: str) -> bool:
        sent = self.streamer.sent_ms if self.streamer is not None else -1.0
        self.prefills.append((sent, request, words))
        await self.gate.wait()
        return True


@pytest.fixture
def llm() -> PrefillingLLM:
    engine = PrefillingLLM(scripted_engines().llm)
    engine.gate.set()
    return engine


@pytest.fixture
async def server(llm: PrefillingLLM) -> AsyncIterator[RunningServer]:
    inner = scripted_engines()
    engines = Engines(llm=llm, tts=inner.tts, stt=inner.stt, vad=inner.vad, name="scripted")  # type: ignore[arg-type]
    async with running_server(ServerConfig(port=0), engines) as running:
        yield running


async def spoken_turn(server: RunningServer, llm: PrefillingLLM, **detection: Any) -> Streamer:
    async with memory_session(server) as client:
        await configure(client, {"type": "server_vad", **detection})
        streamer = llm.streamer = Streamer(client)
        await streamer.send(speech(LONG, lead_ms=200))
        await streamer.quiet_until("input_audio_buffer.speech_stopped")
        if detection.get("create_response", True):
            await streamer.until("response.done")
        return streamer


async def test_the_history_then_the_stable_words_are_read_before_the_turn_ends(
    server: RunningServer, llm: PrefillingLLM
) -> None:
    streamer = await spoken_turn(server, llm)
    stopped = streamer.first("input_audio_buffer.speech_stopped").sent_ms
    said = [words for *_, words in llm.prefills]
    # At speech start nothing was said yet; then each partial's whole words, growing.
    assert said[0] == "" and len(said) >= 2
    assert all(LONG.startswith(words) and words for words in said[1:])
    assert said[1:] == sorted(said[1:], key=len)
    assert all(sent < stopped for sent, *_ in llm.prefills)
    # Each read the conversation the response then sent, up to the user's coming words.
    (answered,) = llm.streams
    assert answered.messages[-1].content == LONG
    for _, request, _ in llm.prefills:
        assert request.instructions == answered.instructions
        assert request.messages == answered.messages[:-1]


async def test_prefills_change_nothing_the_client_sees(
    server: RunningServer, llm: PrefillingLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    warmed = await spoken_turn(server, llm)
    monkeypatch.setattr(PromptWarmer, "enabled", False)
    llm.prefills.clear()
    plain = await spoken_turn(server, llm)
    assert llm.prefills == []
    assert warmed.types() == plain.types()
    done = [s.events("response.done")[0].response for s in (warmed, plain)]
    assert done[0].output[0].content[0].transcript == done[1].output[0].content[0].transcript


async def test_one_prefill_at_a_time_and_none_without_a_coming_response(
    server: RunningServer, llm: PrefillingLLM
) -> None:
    llm.gate.clear()  # the first prefill never ends: the partials' are not stacked behind it
    await spoken_turn(server, llm)
    assert [words for *_, words in llm.prefills] == [""]
    llm.gate.set()
    llm.prefills.clear()
    await spoken_turn(server, llm, create_response=False)
    assert llm.prefills == []
