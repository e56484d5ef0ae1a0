"""One queue for the CPU work of the local engines: no oversubscription, nearest audio first.

Whisper, Piper and espeak-ng each run a call on worker threads. Unchecked,
four sessions put Whisper's threads, several Piper renders and llama.cpp's
threads on two cores at once: every call slows down, and the one a caller is
waiting to hear is slowed as much as a partial transcript nobody waits on.

A :class:`CpuGate` admits calls while their threads fit in its ``capacity``
(cores, less those the embedded LLM keeps busy while it generates). Waiting
calls are admitted earliest deadline first: a call's deadline is its arrival
plus the slack of its :class:`rtagents.engines.stage.Stage` (:data:`SLACK_S`):
none for a reply's first speech, a little for a turn's transcript, more for
speech of a reply already playing (its caller has audio buffered), most for
partial transcripts. So the call nearest to first audio goes first, and no
call waits behind fresher, more urgent work for longer than its slack: with
strict stage order, eight sessions' first speeches and transcripts starved the
later speech of replies already playing, and a turn's transcript that waits
for the partial one before it starved with it (bench/voices.py: p95 11.9 s).
The head of the queue is never overtaken: a smaller call behind it waits too,
so a first speech is never starved by a stream of smaller work.

A call whose caller is cancelled while it waits leaves the queue; one that
already runs keeps its threads until its thread returns (a thread cannot be
stopped), and only then are they given to the next call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import itertools
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

from ..stage import Stage, current_stage

T = TypeVar("T")


# How long a call of each stage may wait behind fresher calls of more urgent stages.
SLACK_S: dict[Stage, float] = {
    Stage.FIRST_SPEECH: 0.0,
    Stage.TURN_END: 0.1,
    Stage.SPEECH: 0.5,
    Stage.PARTIAL: 1.0,
}


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def gate_capacity(llm_threads: int, cores: int | None = None) -> int:
    """Threads the gated engines may use at once: the cores the LLM leaves, at least one."""
    return max(1, (usable_cores() if cores is None else cores) - llm_threads)


class CpuGate:
    """Admits engine calls on threads while they fit in ``capacity`` (see the module doc).

    Its books are kept under a lock and a call gives its threads back from the
    thread it ran on, so a call whose event loop has closed meanwhile (a test's,
    an embedding program's) still frees them for the next loop.
    """

    def __init__(self, capacity: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1 thread, not {capacity}")
        self.capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._busy = 0  # threads of the calls running now
        self._order = itertools.count()  # arrival order among equal deadlines
        # (deadline, arrival, threads, ticket): the heap's head is the next call admitted.
        self._waiting: list[tuple[float, int, int, asyncio.Future[None]]] = []
        # Calls given no executor of their own (the TTS engines) run here.
        self._pool = concurrent.futures.ThreadPoolExecutor(capacity, thread_name_prefix="engine")

    @property
    def busy(self) -> int:
        """Threads of the calls running now."""
        return self._busy

    @property
    def waiting(self) -> int:
        """Calls waiting to be admitted."""
        with self._lock:
            return sum(1 for *_, ticket in self._waiting if not ticket.done())

    async def run(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[..., T],
        *args: Any,
        threads: int = 1,
        stage: Stage | None = None,
    ) -> T:
        """``func(*args)`` on ``executor`` (the gate's own threads if None) once admitted,
        as a call of ``stage`` (by default the current one:
        :func:`rtagents.engines.stage.current_stage`).

        ``threads`` is how many threads the call keeps busy (a gate smaller than
        that admits it alone). A caller cancelled while its call runs stops
        waiting; the thread runs on and holds its share until it returns.
        """
        need = min(max(1, threads), self.capacity)
        await self._admit(current_stage() if stage is None else stage, need)
        try:
            work = (executor or self._pool).submit(func, *args)
        except BaseException:  # the executor is shut down: the share goes back at once
            self._release(need)
            raise
        work.add_done_callback(lambda _: self._release(need))  # on the call's own thread
        return await asyncio.wrap_future(work)

    async def _admit(self, stage: Stage, need: int) -> None:
        ticket = asyncio.get_running_loop().create_future()
        with self._lock:
            deadline = self._clock() + SLACK_S[stage]
            heapq.heappush(self._waiting, (deadline, next(self._order), need, ticket))
            granted = self._choose()
        if (ticket, need) in granted:  # admitted at once: no need to wait for a wake-up
            granted.remove((ticket, need))
            self._wake(granted)
            return
        self._wake(granted)
        try:
            await ticket
        except BaseException:
            if ticket.done() and not ticket.cancelled():
                self._release(need)  # admitted, then cancelled before it ran
            else:  # it may have been the head the others waited behind
                with self._lock:
                    granted = self._choose()
                self._wake(granted)
            raise

    def _release(self, need: int) -> None:
        """Give ``need`` threads back and admit whoever now fits (from any thread)."""
        with self._lock:
            self._busy -= need
            granted = self._choose()
        self._wake(granted)

    def _choose(self) -> list[tuple[asyncio.Future[None], int]]:
        """Under the lock: take waiting calls in order while the head fits."""
        waiting, granted = self._waiting, []
        while waiting:
            need, ticket = waiting[0][2:]
            if ticket.done():  # its caller was cancelled while it waited
                heapq.heappop(waiting)
                continue
            if self._busy + need > self.capacity:
                break
            heapq.heappop(waiting)
            self._busy += need
            granted.append((ticket, need))
        return granted

    def _wake(self, granted: list[tuple[asyncio.Future[None], int]]) -> None:
        for ticket, need in granted:
            try:
                ticket.get_loop().call_soon_threadsafe(self._grant, ticket, need)
            except RuntimeError:  # its loop has closed: nobody is left to run the call
                self._release(need)

    def _grant(self, ticket: asyncio.Future[None], need: int) -> None:
        """On the caller's loop: let it run, unless it was cancelled after being chosen."""
        if ticket.done():
            self._release(need)
        else:
            ticket.set_result(None)


async def rendered_clauses(
    gate: CpuGate | None,
    render: Callable[[str], bytes],
    clauses: Iterable[str],
    *,
    threads: int = 1,
) -> AsyncIterator[bytes]:
    """Each clause's audio from ``render`` on a thread, yielded as soon as it is ready.

    The first clause serves the caller's stage; the rest are more speech of a
    reply already playing (``Stage.SPEECH``) unless the caller's stage is lower still.
    """
    stage = current_stage()
    for index, clause in enumerate(clauses):
        if gate is None:
            pcm = await asyncio.to_thread(render, clause)
        else:
            at = stage if index == 0 else max(stage, Stage.SPEECH)
            pcm = await gate.run(None, render, clause, threads=threads, stage=at)
        if pcm:
            yield pcm
