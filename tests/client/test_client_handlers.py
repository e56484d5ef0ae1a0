"""The handler registry: order, catch-alls, and snapshots that later changes leave alone."""

from __future__ import annotations

from typing import Any

from rtagents.client.events import ERROR
from rtagents.client.handlers import ALL, HandlerRegistry


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
