"""The fake clock, the kit that exposes it, and what it drives.

The session cap (ServerConfig's clock and sleep), the client's stall watchdog
and its rollover (connect's clock) all run here on a FakeClock: no real waiting.
"""

from __future__ import annotations

import asyncio
import re

import pytest

import rtagents.testing as kit
from rtagents.client import ReconnectPolicy
from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.protocol.lifecycle import State
from rtagents.server.config import ServerConfig
from rtagents.testing import session_pair
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


TEXT_ONLY = {"type": "realtime", "output_modalities": ["text"]}


async def _all_waiting(clock: FakeClock, count: int) -> None:
    """Until ``count`` tasks sleep on ``clock``: the code under test is waiting on it."""
    await asyncio.wait_for(clock.until_sleeping(count), 10)


async def test_the_session_cap_waits_on_the_fake_clock() -> None:
    clock = FakeClock()
    config = ServerConfig(port=0, session_cap_s=600, clock=clock, sleep=clock.sleep)
    async with session_pair(config=config, session=TEXT_ONLY) as pair:
        assert pair.client.config.expires_at == int(clock() + 600)
        await _all_waiting(clock, 1)
        clock.advance(599)
        await asyncio.sleep(0)
        assert pair.client.state is State.ACTIVE
        notice = asyncio.create_task(pair.client.wait_for("error", timeout=10))
        await asyncio.sleep(0)
        clock.advance(1)
        assert "maximum duration of 10 minutes" in (await notice).error.message
        await asyncio.wait_for(pair.host.wait_closed(), 10)


async def test_the_stall_watchdog_runs_on_the_fake_clock() -> None:
    clock = FakeClock()
    # The model streams its first word, then takes an hour (of real time) for the next.
    slow = scripted_engines(
        [Rule(when=re.compile("slow"), then=Say("one two", token_delay_s=3600))]
    )
    async with session_pair(engines=slow, session=TEXT_ONLY, stall_timeout=30, clock=clock) as pair:
        client = pair.client
        first = asyncio.create_task(client.wait_for("response.output_text.delta", timeout=10))
        stalled = asyncio.create_task(client.wait_for("rtagents.stalled", timeout=10))
        await asyncio.sleep(0)
        await client.send_text("slow")
        await client.create_response()
        await first
        await _all_waiting(clock, 2)  # the watchdog and the rollover loop
        clock.advance(29)  # silent for 29 s: under the limit
        await _all_waiting(clock, 2)
        assert not stalled.done()
        clock.advance(8)  # the watchdog's next look (every 7.5 s) finds 37 s of silence
        error = (await stalled).error
        assert error.code == "response_stalled" and "37.0 s" in error.message
        assert client.state is State.ACTIVE  # without reconnect the session stays


async def test_the_rollover_runs_on_the_fake_clock() -> None:
    clock = FakeClock()
    config = ServerConfig(port=0, session_cap_s=600, clock=clock, sleep=clock.sleep)
    policy = ReconnectPolicy(rollover_margin=60)
    async with session_pair(
        config=config, session=TEXT_ONLY, reconnect=policy, clock=clock
    ) as pair:
        first = pair.host
        rolled = asyncio.create_task(pair.client.wait_for("rtagents.resumed", timeout=10))
        await _all_waiting(clock, 3)  # the cap, the watchdog, the rollover loop
        clock.advance(539)  # the rollover is due 60 s before the cap: not yet
        await _all_waiting(clock, 3)
        assert len(pair.hosts) == 1
        clock.advance(1)
        event = await rolled
        assert event.reason == "rollover" and pair.host is not first
        assert pair.client.session_id == pair.host.id
        await asyncio.wait_for(first.wait_closed(), 10)  # the old session was let go
