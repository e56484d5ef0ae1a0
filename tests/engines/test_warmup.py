"""WarmUp: readiness bookkeeping, failures that do not propagate, closing engines once."""

from __future__ import annotations

import asyncio

from rtagents.engines.base import EngineFailure, Engines
from rtagents.engines.scripted import ScriptedLLM, ScriptedTTS, scripted_engines
from rtagents.engines.warmup import WarmUp, close_engines


class Part:
    """A warmable engine part whose warm-up does what the test says."""

    def __init__(self, error: Exception | None = None, gate: asyncio.Event | None = None) -> None:
        self.error, self.gate = error, gate
        self.warmed = self.closed = 0
        self.reason = ""
        self.started, self.done = asyncio.Event(), asyncio.Event()

    async def warm_up(self) -> None:
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        self.warmed += 1
        self.done.set()

    async def aclose(self) -> None:
        self.closed += 1


class SyncClosing:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def engines_with(llm: object, tts: object, stt: object = None) -> Engines:
    return Engines(llm=llm, tts=tts, stt=stt, labels={"llm": "the llm"})  # type: ignore[arg-type]


def test_parts_without_warm_up_are_ready_at_once() -> None:
    warmup = WarmUp(scripted_engines())
    assert warmup.overall == "ready"
    report = warmup.report()
    assert report["status"] == "ready"
    assert report["engines"]["llm"] == {"label": "ScriptedLLM", "state": "ready"}


async def test_a_failing_part_is_recorded_and_the_rest_still_load() -> None:
    failing = Part(EngineFailure("weights missing", hint="pip install them"))
    crashing, fine = Part(RuntimeError("onnx exploded")), Part()
    lines: list[str] = []
    warmup = WarmUp(engines_with(failing, fine, crashing), progress=lines.append)
    await warmup.run()
    assert fine.warmed == 1 and warmup.overall == "degraded"
    llm, stt = warmup.readiness()["llm"], warmup.readiness()["stt"]
    assert (llm.label, llm.state, llm.error, llm.hint) == (
        "the llm",
        "failed",
        "weights missing",
        "pip install them",
    )
    assert stt.state == "failed" and stt.error == "RuntimeError: onnx exploded"
    assert "llm FAILED: the llm: weights missing (pip install them)" in lines
    assert lines[-1] == "engines degraded: 1/3 parts ready"


async def test_readiness_shows_the_part_loading_and_stop_cancels_the_wait() -> None:
    gate = asyncio.Event()
    slow = Part(gate=gate)
    warmup = WarmUp(engines_with(slow, ScriptedTTS()))
    warmup.start()
    warmup.start()  # idempotent
    await slow.started.wait()
    assert warmup.readiness()["llm"].state == "loading" and warmup.overall == "warming"
    await warmup.stop()
    assert warmup.readiness()["llm"].state == "pending" and slow.warmed == 0


async def test_wait_starts_and_finishes_the_warm_up_and_notes_fallbacks() -> None:
    tts = Part()
    tts.reason = "piper: no voice"
    warmup = WarmUp(engines_with(ScriptedLLM(), tts))
    await warmup.wait()
    status = warmup.readiness()["tts"]
    assert status.state == "ready" and status.note == "piper: no voice"
    assert warmup.report()["engines"]["tts"]["note"] == "piper: no voice"


async def test_a_retryable_failure_is_retried_quietly_until_it_works() -> None:
    part = Part(EngineFailure("nothing listens", hint="start it", retryable=True))
    lines: list[str] = []
    warmup = WarmUp(engines_with(part, ScriptedTTS()), progress=lines.append, retry_s=0.01)
    await warmup.wait()
    assert warmup.overall == "degraded" and warmup.readiness()["llm"].retryable
    assert "retrying every 0.01 s" in lines[1]
    part.error = None  # the operator starts the model server
    await asyncio.wait_for(part.done.wait(), 5)
    assert warmup.overall == "ready"
    assert lines.count("loading llm: the llm...") == 1  # retries are quiet
    await warmup.stop()


async def test_close_engines_closes_each_part_once() -> None:
    shared, sync = Part(), SyncClosing()
    await close_engines(engines_with(shared, shared, sync))
    assert shared.closed == 1 and sync.closed == 1
