"""Item placement: predecessors, root, early arrivals, cycles, deletes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rtagents.protocol.ordering import ItemOrder


def order(*placements: tuple[str, str | None]) -> ItemOrder:
    result = ItemOrder()
    for item_id, previous in placements:
        result.place(item_id, previous)
    return result


def test_none_appends_and_keeps_known_items_in_place() -> None:
    items = order(("a", None), ("b", None), ("a", None))
    assert items.ids == ["a", "b"] and len(items) == 2
    assert items.last == "b" and items.previous("b") == "a" and items.previous("a") is None


def test_previous_inserts_after_and_root_inserts_first() -> None:
    items = order(("a", None), ("c", "a"), ("b", "a"), ("z", "root"))
    assert items.ids == ["z", "a", "b", "c"]


def test_moving_a_known_item() -> None:
    items = order(("a", None), ("b", None), ("c", None), ("a", "c"))
    assert items.ids == ["b", "c", "a"]


def test_a_chain_arriving_backwards_ends_in_order() -> None:
    items = order(("d", "c"), ("c", "b"), ("b", "a"))
    assert items.ids == ["b", "c", "d"]
    assert items.waiting_for("d") == "a" and items.last == "d"
    items.place("a", None)
    assert items.ids == ["a", "b", "c", "d"]
    assert items.waiting_for("d") is None


def test_items_after_a_waiting_item_join_its_block() -> None:
    items = order(("x", None), ("c", "b"), ("e", "c"), ("d", "c"))
    assert items.ids == ["x", "c", "d", "e"]
    items.place("b", "x")
    assert items.ids == ["x", "b", "c", "d", "e"]


def test_a_cycle_is_attached_at_the_end() -> None:
    items = order(("x", None), ("a", "b"), ("b", "a"))
    assert items.ids == ["x", "a", "b"]
    assert items.waiting_for("a") is None


def test_self_reference_is_an_append() -> None:
    assert order(("a", "a")).ids == ["a"]


def test_remove_and_waiting_blocks_of_removed_ids() -> None:
    items = order(("a", None), ("c", "b"), ("d", "zz"))
    assert items.remove("a") and not items.remove("a")
    assert items.remove("b") is False  # never arrived: its block stops waiting
    assert items.ids == ["c", "d"] and items.waiting_for("c") is None
    assert items.previous("missing") is None and "c" in items and "a" not in items


def test_replacing_a_waiting_item_that_still_waits() -> None:
    items = order(("a", "zz"), ("a", "zz"))
    assert items.ids == ["a"] and items.waiting_for("a") == "zz"


def test_empty_order() -> None:
    items = ItemOrder()
    assert items.ids == [] and items.last is None and len(items) == 0


@given(st.permutations(range(6)))
def test_any_arrival_order_of_a_chain_converges(arrival: list[int]) -> None:
    """Items 0..5, each naming its predecessor, arrive in any order."""
    items = ItemOrder()
    for n in arrival:
        items.place(f"i{n}", f"i{n - 1}" if n else None)
    assert items.ids == [f"i{n}" for n in range(6)]
