"""The collector schedule: full passes skip what it froze, and a sweep still frees cycles.

The collector is process-wide, so each test restores it (``gc.unfreeze()``)
whatever happens. Cycles are made of plain objects and watched through
``weakref.finalize``: whether one is freed is the whole question.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from rtagents.server.collector import CollectorSchedule, start_schedule


class _Node:
    """A reference cycle of its own (``self.me = self``), freed only by a collection."""

    def __init__(self) -> None:
        self.me = self


def _watched_cycle() -> list[bool]:
    """Make a garbage cycle right away; the list turns [True] when it is freed.

    The collector is off meanwhile: an automatic collection of the middle
    generation while the node is still referenced would move it to the oldest
    one, where a tick's young collection does not look.
    """
    freed: list[bool] = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        node = _Node()
        weakref.finalize(node, freed.append, True)
        del node
    finally:
        if enabled:
            gc.enable()
    return freed


def _live_cycle() -> tuple[_Node, list[bool]]:
    freed: list[bool] = []
    node = _Node()
    weakref.finalize(node, freed.append, True)
    return node, freed


@pytest.fixture(autouse=True)
def restored_collector() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.collect()


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_tick_frees_the_young_garbage_before_it_freezes() -> None:
    freed = _watched_cycle()
    CollectorSchedule(lambda: 1).tick()
    assert freed == [True]


def test_what_a_tick_froze_is_out_of_reach_until_the_sweep() -> None:
    schedule = CollectorSchedule(lambda: 3)
    node, freed = _live_cycle()
    schedule.tick()  # a live session's object: moved out of the collector's reach
    del node  # the session ends with a cycle nobody broke
    gc.collect()
    assert freed == [], "a full pass walked the frozen objects"
    sweep = schedule.sweep(3)
    assert freed == [True]
    assert sweep.collected >= 1 and sweep.live_sessions == 3 and sweep.pause_s >= 0


def test_the_first_tick_with_no_live_session_sweeps() -> None:
    live = [2]
    schedule = CollectorSchedule(lambda: live[0])
    node, freed = _live_cycle()
    assert schedule.tick() is None
    del node
    live[0] = 0
    assert schedule.tick() is not None, "idle, with objects frozen under load: a sweep is due"
    assert freed == [True]
    assert schedule.tick() is None, "nothing frozen under load since: no sweep again"


def test_an_idle_process_that_never_served_does_not_sweep() -> None:
    schedule = CollectorSchedule(lambda: 0)
    assert [schedule.tick() for _ in range(3)] == [None, None, None]
    assert schedule.sweeps == []


def test_a_busy_process_sweeps_when_the_bound_is_reached() -> None:
    clock = _Clock()
    schedule = CollectorSchedule(lambda: 5, freeze_every_s=1.0, sweep_every_s=10.0, clock=clock)
    node, freed = _live_cycle()
    schedule.tick()
    del node
    clock.now = 9.5
    assert schedule.tick() is None and freed == []
    clock.now = 10.0
    assert schedule.tick() is not None and freed == [True]
    assert len(schedule.sweeps) == 1


@pytest.mark.parametrize(("freeze", "sweep"), [(0.0, 10.0), (-1.0, 10.0), (5.0, 1.0)])
def test_periods_are_checked(freeze: float, sweep: float) -> None:
    with pytest.raises(ValueError, match="freeze_every_s"):
        CollectorSchedule(lambda: 0, freeze_every_s=freeze, sweep_every_s=sweep)


async def test_run_ticks_until_cancelled() -> None:
    live = [1]
    schedule = CollectorSchedule(lambda: live[0], freeze_every_s=0.01, sweep_every_s=60.0)
    task = asyncio.ensure_future(schedule.run())
    node, freed = _live_cycle()
    await asyncio.sleep(0.05)  # some ticks froze it
    del node
    live[0] = 0

    async def swept() -> None:
        while not freed:  # noqa: ASYNC110 (the schedule's own timer is what is tested)
            await asyncio.sleep(0.01)

    await asyncio.wait_for(swept(), 30.0)  # a generous cap: a sweep is due on the next tick
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert schedule.sweeps and schedule.sweeps[-1].live_sessions == 0


async def test_start_schedule_runs_one_unless_it_is_turned_off() -> None:
    assert start_schedule(0, lambda: 0) is None  # --gc-sweep 0: Python's own schedule
    task = start_schedule(0.5, lambda: 0)  # below a freeze period: one sweep a second at most
    assert task is not None and not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
