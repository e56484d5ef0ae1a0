"""The handler registry: order, catch-alls, and snapshots that later changes leave alone."""

from __future__ import annotations

from typing import Any

from rtagents.client.events import ERROR
from rtagents.client.handlers import (
    ALL,
    DIGESTS_PER_ID,
    SEEN_EVENT_IDS,
    HandlerRegistry,
    SeenIds,
    Sighting,
)


def first(event: Any) -> None: ...


def second(event: Any) -> None: ...


def anything(event: Any) -> None: ...


def test_specific_handlers_come_before_catch_alls_except_for_errors() -> None:
    registry = HandlerRegistry()
    assert registry.for_type("response.done") == ()
    registry.add(ALL, anything)
    registry.add("response.done", first)
    registry.add(ERROR, second)
    assert [h for h, _ in registry.for_type("response.done")] == [first, anything]
    assert [h for h, _ in registry.for_type("response.created")] == [anything]
    assert [h for h, _ in registry.for_type(None)] == [anything]
    assert [h for h, _ in registry.for_type(ERROR)] == [second]


def test_a_snapshot_is_not_changed_by_later_registrations() -> None:
    registry = HandlerRegistry()
    registry.add("response.done", first)
    snapshot = registry.for_type("response.done")
    registry.add("response.done", second)
    assert registry.remove("response.done", first)
    assert [h for h, _ in snapshot] == [first]
    assert [h for h, _ in registry.for_type("response.done")] == [second]
    assert not registry.remove("response.done", first)


def test_tool_handlers_are_inferred_from_the_event_type() -> None:
    registry = HandlerRegistry()
    registry.add("response.function_call_arguments.done", first)
    registry.add("response.function_call_arguments.done", second, tool=False)
    registry.add("response.done", anything, tool=True)
    assert [t for _, t in registry.for_type("response.function_call_arguments.done")] == [
        True,
        False,
    ]
    assert registry.for_type("response.done")[0][1] is True


def test_seen_ids_tell_replays_from_collisions() -> None:
    seen = SeenIds()
    assert seen.sight("e1", 1) is Sighting.NEW
    assert seen.sight("e1", 1) is Sighting.REPLAY
    assert seen.sight("e1", 2) is Sighting.COLLISION
    assert seen.sight("e1", 2) is Sighting.REPLAY  # the second content replayed
    assert seen.sight(None, 3) is Sighting.NEW
    # Without a frame digest nothing can tell a collision: a repeat is a replay.
    assert seen.sight("e2", None) is Sighting.NEW
    assert seen.sight("e2", 5) is Sighting.REPLAY
    assert seen.sight("e3", 5) is Sighting.NEW
    assert seen.sight("e3", None) is Sighting.REPLAY


def test_seen_ids_stay_bounded_past_their_window() -> None:
    seen = SeenIds()
    for number in range(SEEN_EVENT_IDS * 3):
        seen.sight(f"event_{number}", number)
    assert len(seen) == SEEN_EVENT_IDS
    assert seen.sight("event_0", 0) is Sighting.NEW  # forgotten: oldest out
    assert seen.sight(f"event_{SEEN_EVENT_IDS * 3 - 1}", SEEN_EVENT_IDS * 3 - 1) is Sighting.REPLAY


def test_digests_per_id_are_bounded() -> None:
    seen = SeenIds()
    assert seen.sight("e", 0) is Sighting.NEW
    sightings = [seen.sight("e", digest) for digest in range(1, DIGESTS_PER_ID * 4)]
    assert sightings.count(Sighting.COLLISION) == DIGESTS_PER_ID - 1
    assert set(sightings[DIGESTS_PER_ID - 1 :]) == {Sighting.COLLISION_AGAIN}
    assert seen._ids["e"] == tuple(range(DIGESTS_PER_ID))
