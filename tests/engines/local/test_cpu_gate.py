"""The local engines' CPU queue: capacity in threads, nearest audio first, cancellation-safe.

The calls are real functions on real threads; each test holds the gate with a
call that waits on a ``threading.Event``, queues others, then lets go and reads
the order in which the functions actually ran.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable
from typing import Any

import pytest

from rtagents.engines.local.cpu_gate import SLACK_S, CpuGate, gate_capacity, rendered_clauses
from rtagents.engines.stage import Stage, current_stage, engine_stage

WAIT_S = 10.0


class Calls:
    """Functions that write down their name when they run (on their thread)."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.lock = threading.Lock()

    def named(
        self,
        name: str,
        release: threading.Event | None = None,
        started: threading.Event | None = None,
    ) -> Callable[[], str]:
        def call() -> str:
            with self.lock:
                self.ran.append(name)
            if started is not None:
                started.set()
            if release is not None:
                assert release.wait(WAIT_S)
            return name

        return call


async def holding(
    gate: CpuGate, calls: Calls, threads: int = 1
) -> tuple[asyncio.Task[str], threading.Event]:
    """A call that holds ``threads`` of the gate until the event is set."""
    release, started = threading.Event(), threading.Event()
    call = calls.named("holder", release, started)
    task = asyncio.create_task(gate.run(None, call, threads=threads))
    assert await asyncio.to_thread(started.wait, WAIT_S)
    return task, release


async def queued(
    gate: CpuGate, call: Callable[[], Any], stage: Stage, threads: int = 1
) -> asyncio.Task[Any]:
    with engine_stage(stage):  # the task copies the context: it runs as this stage
        task = asyncio.create_task(gate.run(None, call, threads=threads))
    await asyncio.sleep(0)  # let it reach the queue
    return task


async def test_waiting_calls_run_nearest_audio_first_then_in_arrival_order() -> None:
    gate, calls = CpuGate(1), Calls()
    holder, release = await holding(gate, calls)
    order = [
        ("speech", Stage.SPEECH),
        ("partial", Stage.PARTIAL),
        ("first speech", Stage.FIRST_SPEECH),
        ("turn end", Stage.TURN_END),
        ("second first speech", Stage.FIRST_SPEECH),
    ]
    tasks = [await queued(gate, calls.named(name), stage) for name, stage in order]
    assert gate.waiting == 5 and gate.busy == 1
    release.set()
    await asyncio.gather(holder, *tasks)
    assert calls.ran == [
        "holder",
        "first speech",
        "second first speech",
        "turn end",
        "speech",
        "partial",
    ]
    assert gate.busy == 0 and gate.waiting == 0


async def test_a_call_that_waited_past_its_slack_goes_before_fresher_urgent_work() -> None:
    """Earliest deadline first: a stage's slack bounds how long newer, more urgent calls
    can keep it waiting (so a reply's later speech or a partial transcript never starves)."""
    now = [100.0]
    gate, calls = CpuGate(1, clock=lambda: now[0]), Calls()
    holder, release = await holding(gate, calls)
    partial = await queued(gate, calls.named("old partial"), Stage.PARTIAL)
    speech = await queued(gate, calls.named("old speech"), Stage.SPEECH)
    now[0] += SLACK_S[Stage.PARTIAL] + 0.01  # both have waited longer than their slack
    first = await queued(gate, calls.named("new first speech"), Stage.FIRST_SPEECH)
    now[0] += 0.01
    fresher = await queued(gate, calls.named("newer speech"), Stage.SPEECH)
    release.set()
    await asyncio.gather(holder, partial, speech, first, fresher)
    assert calls.ran == ["holder", "old speech", "old partial", "new first speech", "newer speech"]


async def test_threads_never_exceed_the_capacity() -> None:
    gate = CpuGate(3)
    running = peak = 0
    lock = threading.Lock()

    def work(threads: int) -> int:
        nonlocal running, peak
        with lock:
            running += threads
            peak = max(peak, running)
        threading.Event().wait(0.002)
        with lock:
            running -= threads
        return threads

    sizes = [1, 2, 1, 3, 2, 1, 1, 2] * 4
    results = await asyncio.gather(*(gate.run(None, work, n, threads=n) for n in sizes))
    assert results == sizes
    assert 2 <= peak <= 3  # it did run calls side by side, never more threads than 3
    assert gate.busy == 0


async def test_the_head_of_the_queue_is_not_overtaken_by_a_smaller_call() -> None:
    gate, calls = CpuGate(2), Calls()
    holder, release = await holding(gate, calls)  # one of two threads busy
    big = await queued(gate, calls.named("two threads"), Stage.FIRST_SPEECH, threads=2)
    small = await queued(gate, calls.named("one thread"), Stage.PARTIAL)
    await asyncio.sleep(0.01)
    assert calls.ran == ["holder"]  # a thread is free, yet the small call waits its turn
    release.set()
    await asyncio.gather(holder, big, small)
    assert calls.ran == ["holder", "two threads", "one thread"]


async def test_a_call_wider_than_the_gate_runs_alone() -> None:
    gate = CpuGate(1)
    assert await gate.run(None, lambda: "ran", threads=4) == "ran"
    assert gate.busy == 0


async def test_a_caller_cancelled_while_waiting_leaves_the_queue_and_its_call_never_runs() -> None:
    gate, calls = CpuGate(1), Calls()
    holder, release = await holding(gate, calls)
    head = await queued(gate, calls.named("cancelled head"), Stage.FIRST_SPEECH)
    deeper = await queued(gate, calls.named("cancelled deeper"), Stage.PARTIAL)
    kept = await queued(gate, calls.named("kept"), Stage.SPEECH)
    head.cancel()
    deeper.cancel()
    await asyncio.gather(head, deeper, return_exceptions=True)
    assert gate.waiting == 1
    release.set()
    await asyncio.gather(holder, kept)
    assert calls.ran == ["holder", "kept"]
    assert gate.busy == 0


async def test_a_call_cancelled_while_running_holds_its_thread_until_the_thread_returns() -> None:
    gate, calls = CpuGate(1), Calls()
    holder, release = await holding(gate, calls)
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    nxt = await queued(gate, calls.named("next"), Stage.FIRST_SPEECH)
    await asyncio.sleep(0.01)
    assert gate.busy == 1 and calls.ran == ["holder"]  # the thread still runs
    release.set()
    assert await asyncio.wait_for(nxt, WAIT_S) == "next"
    assert gate.busy == 0


async def test_a_failing_call_raises_to_its_caller_and_gives_its_threads_back() -> None:
    gate = CpuGate(1)

    def fails() -> None:
        raise RuntimeError("engine broke")

    with pytest.raises(RuntimeError, match="engine broke"):
        await gate.run(None, fails)
    assert gate.busy == 0
    assert await gate.run(None, lambda: 7) == 7


async def test_an_orphaned_failure_is_retrieved_so_nothing_warns_about_it() -> None:
    gate = CpuGate(1)
    release = threading.Event()
    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: reported.append(context))

    def fails_later() -> None:
        assert release.wait(WAIT_S)
        raise RuntimeError("nobody is waiting for this")

    task = asyncio.create_task(gate.run(None, fails_later))
    await asyncio.sleep(0.01)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    while gate.busy:  # noqa: ASYNC110 (the gate offers no event for "idle")
        await asyncio.sleep(0.001)
    gc.collect()  # an unretrieved exception is reported when its future is collected
    assert reported == []


class RecordingGate(CpuGate):
    """A real gate that also writes down the stage of every call given to it."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.stages: list[Stage | None] = []

    async def run(
        self,
        executor: Any,
        func: Callable[..., Any],
        *args: Any,
        threads: int = 1,
        stage: Stage | None = None,
    ) -> Any:
        self.stages.append(current_stage() if stage is None else stage)
        return await super().run(executor, func, *args, threads=threads, stage=stage)


@pytest.mark.parametrize(
    ("stage", "later"),
    [
        (Stage.FIRST_SPEECH, Stage.SPEECH),
        (Stage.SPEECH, Stage.SPEECH),
        (Stage.PARTIAL, Stage.PARTIAL),
    ],
)
async def test_a_replys_first_clause_serves_the_callers_stage_and_the_rest_are_more_speech(
    stage: Stage, later: Stage
) -> None:
    gate = RecordingGate(1)
    with engine_stage(stage):
        pieces = [
            pcm async for pcm in rendered_clauses(gate, str.encode, ["One,", "two,", "three."])
        ]
    assert pieces == [b"One,", b"two,", b"three."]
    assert gate.stages == [stage, later, later]


async def test_without_a_gate_clauses_render_on_threads_all_the_same() -> None:
    pieces = [pcm async for pcm in rendered_clauses(None, str.encode, ["a", "", "b"])]
    assert pieces == [b"a", b"b"]  # an empty render is skipped


def test_the_gate_gets_the_cores_the_llm_leaves_and_at_least_one() -> None:
    assert gate_capacity(1, cores=2) == 1
    assert gate_capacity(4, cores=8) == 4
    assert gate_capacity(2, cores=2) == 1
    assert gate_capacity(0, cores=2) == 2
    assert gate_capacity(0) >= 1
    with pytest.raises(ValueError, match="at least 1 thread"):
        CpuGate(0)


def test_a_call_whose_event_loop_closed_still_gives_its_thread_back() -> None:
    """A test's or an embedding program's loop may end while an engine thread runs: the
    thread frees its share when it returns, so the next loop's calls are not locked out."""
    gate = CpuGate(1)
    started, release = threading.Event(), threading.Event()

    def long_call() -> str:
        started.set()
        assert release.wait(WAIT_S)
        return "done"

    async def leave_it_running() -> None:
        asyncio.create_task(gate.run(None, long_call))  # noqa: RUF006 (left to asyncio.run)
        assert await asyncio.to_thread(started.wait, WAIT_S)

    asyncio.run(leave_it_running())  # cancels the caller and closes its loop
    assert gate.busy == 1
    release.set()

    async def next_loop() -> int:
        return await asyncio.wait_for(gate.run(None, lambda: 7), WAIT_S)

    assert asyncio.run(next_loop()) == 7
    assert gate.busy == 0
