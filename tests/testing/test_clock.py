"""The fake clock, and the test kit that exposes it."""

from __future__ import annotations

import asyncio

import pytest

import rtagents.testing as kit
from rtagents.testing.clock import DEFAULT_START, FakeClock


def test_the_clock_moves_only_when_told() -> None:
    clock = FakeClock()
    assert clock() == clock() == DEFAULT_START
    assert clock.advance(600.5) == DEFAULT_START + 600.5
    clock.set(DEFAULT_START + 1000)
    assert clock() == clock.now == DEFAULT_START + 1000


def test_the_clock_never_goes_back() -> None:
    clock = FakeClock(10.0)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(5.0)
    assert clock() == 10.0


def test_the_kit_exposes_its_parts_on_demand() -> None:
    assert kit.FakeClock is FakeClock
    assert set(kit.__all__) <= set(dir(kit))
    for name in kit.__all__:
        assert getattr(kit, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = kit.nope  # type: ignore[attr-defined]


async def test_a_sleeper_wakes_only_once_the_clock_reaches_its_deadline() -> None:
    clock = FakeClock(0.0)
    sleeping = asyncio.create_task(clock.sleep(10))
    await asyncio.wait_for(clock.until_sleeping(1), 5)
    assert (clock.sleepers, clock.next_deadline) == (1, 10.0)
    clock.advance(9.5)
    await asyncio.sleep(0)
    assert not sleeping.done()
    clock.advance(0.5)
    await asyncio.wait_for(sleeping, 5)
    assert (clock.sleepers, clock.next_deadline) == (0, None)


async def test_sleepers_wake_in_deadline_order_and_set_wakes_them_too() -> None:
    clock = FakeClock(0.0)
    woke: list[str] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(nap(n, s)) for n, s in (("late", 30), ("soon", 5), ("mid", 20))]
    await asyncio.wait_for(clock.until_sleeping(3), 5)
    clock.advance(25)
    await asyncio.sleep(0)
    assert woke == ["soon", "mid"]
    clock.set(30)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert woke == ["soon", "mid", "late"]


async def test_a_zero_sleep_only_yields_and_a_cancelled_sleeper_is_forgotten() -> None:
    clock = FakeClock(0.0)
    await asyncio.wait_for(clock.sleep(0), 5)
    sleeping = asyncio.create_task(clock.sleep(60))
    await asyncio.wait_for(clock.until_sleeping(1), 5)
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    assert (clock.sleepers, clock.next_deadline) == (0, None)
    assert clock() == 0.0  # sleeping never moves the clock


def test_no_submodule_shadows_a_name_of_the_kit() -> None:
    import importlib
    import pkgutil
    import types

    for module in pkgutil.iter_modules(kit.__path__):
        importlib.import_module(f"rtagents.testing.{module.name}")  # sets kit.<module name>
    shadowed = [n for n in kit.__all__ if isinstance(getattr(kit, n), types.ModuleType)]
    assert shadowed == []
