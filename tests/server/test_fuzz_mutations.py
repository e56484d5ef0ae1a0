"""The fuzz harness itself: what it expects of deeply nested events, safely computed."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fuzz_mutations import PARSE_DEPTH_LIMIT, readable_event_id

from rtagents.observability.gc_pauses import PauseTally


@pytest.fixture
def collector_callback_at_every_allocation() -> Iterator[list[int]]:
    """The server's pause timer as a gc callback, with a collection at nearly
    every allocation, so one runs wherever the stack is."""
    tally = PauseTally()
    calls: list[int] = []

    def callback(phase: str, info: dict[str, Any]) -> None:
        tally(phase, info)
        calls.append(1)

    thresholds = gc.get_threshold()
    gc.callbacks.append(callback)
    gc.set_threshold(1, 1, 1)
    try:
        yield calls
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(callback)


@pytest.mark.parametrize("depth", [1000, 5000, 100_000])
@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ('{"a":', "}")])
def test_a_nest_too_deep_to_parse_never_recurses_to_the_limit(
    collector_callback_at_every_allocation: list[int], depth: int, opener: str, closer: str
) -> None:
    # A callback that failed with RecursionError would be an unraisable error,
    # which this suite's settings turn into a failure of this test.
    raw = ('{"event_id": "evt_deep", "x": ' + opener * depth + "1" + closer * depth + "}").encode()
    assert readable_event_id(raw) == "evt_deep"
    assert collector_callback_at_every_allocation


def test_a_nest_below_the_limit_is_parsed_whole() -> None:
    levels = PARSE_DEPTH_LIMIT - 1  # and the event's own object
    nested = "[" * levels + "1" + "]" * levels
    raw = ('{"type": "x", "deep": ' + nested + ', "event_id": "evt_last"}').encode()
    assert readable_event_id(raw) == "evt_last"  # not the leading key: the parser read it


def test_brackets_inside_strings_do_not_count() -> None:
    raw = json.dumps({"text": "[" * 10_000, "event_id": "evt_text"}).encode()
    assert readable_event_id(raw) == "evt_text"
