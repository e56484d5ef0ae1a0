"""The fake clock, and the test kit that exposes it."""

from __future__ import annotations

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
