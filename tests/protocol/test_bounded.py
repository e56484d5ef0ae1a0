"""RecentDict keeps the newest keys only."""

from __future__ import annotations

import pytest

from rtagents.protocol.bounded import RecentDict


def test_the_oldest_key_goes_past_the_limit() -> None:
    recent: RecentDict[str, int] = RecentDict(3)
    for number in range(10):
        recent[f"k{number}"] = number
    assert list(recent.items()) == [("k7", 7), ("k8", 8), ("k9", 9)]


def test_reassigning_a_key_keeps_its_place_and_evicts_nothing() -> None:
    recent: RecentDict[str, int] = RecentDict(2)
    recent["a"] = 1
    recent["b"] = 2
    recent["a"] = 3
    assert list(recent.items()) == [("a", 3), ("b", 2)]


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit >= 1"):
        RecentDict(0)
