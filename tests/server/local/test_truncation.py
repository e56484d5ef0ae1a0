"""Fitting histories into a token limit: never over it, the newest turn kept, cuts in chunks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtagents.server.local.truncation import (
    ContextOverflow,
    HistoryWindow,
    Truncation,
    fit_start,
    input_limit,
)

turn_sizes = st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=200)
limits = st.integers(min_value=1, max_value=2000)
ratios = st.floats(min_value=0.0, max_value=1.0)


@given(turn_sizes, limits, ratios, st.integers(min_value=0, max_value=250))
def test_what_is_kept_never_exceeds_the_limit_and_keeps_the_newest_turn(
    sizes: list[int], limit: int, retain: float, start: int
) -> None:
    kept_from = fit_start(sizes, start, limit, retain)
    if sizes[-1] > limit:
        assert kept_from is None  # nothing can be sent: the caller fails the response
        return
    assert kept_from is not None
    assert kept_from <= len(sizes) - 1  # the newest turn is always sent
    assert sum(sizes[kept_from:]) <= limit


@given(turn_sizes, limits, ratios)
def test_a_history_that_fits_is_not_touched(sizes: list[int], limit: int, retain: float) -> None:
    if sum(sizes) <= limit:
        assert fit_start(sizes, 0, limit, retain) == 0


@given(turn_sizes, limits, st.floats(min_value=0.0, max_value=1.0))
def test_a_cut_leaves_room_down_to_the_retention_ratio(
    sizes: list[int], limit: int, retain: float
) -> None:
    kept_from = fit_start(sizes, 0, limit, retain)
    if kept_from is None or kept_from == 0:
        return
    kept = sum(sizes[kept_from:])
    # Either the cut reached the ratio, or only the newest turn is left.
    assert kept <= int(limit * retain) or kept_from == len(sizes) - 1
    # And it left out no more than needed: one turn fewer would be over the target.
    assert sum(sizes[kept_from - 1 :]) > min(limit, int(limit * retain))


@settings(max_examples=60)
@given(
    st.lists(st.integers(min_value=1, max_value=60), min_size=20, max_size=300),
    st.integers(min_value=200, max_value=1500),
    st.floats(min_value=0.3, max_value=0.8),
)
def test_a_growing_session_is_cut_in_chunks_not_every_turn(
    sizes: list[int], limit: int, retain: float
) -> None:
    """retention_ratio: after a cut, the following turns fit without another one."""
    window = HistoryWindow()
    policy = Truncation("retention_ratio", retain)
    keys = [f"item{i}" for i in range(len(sizes))]
    previous_start = 0
    cut_turns = []
    for turn in range(1, len(sizes) + 1):
        start = window.fit(keys[:turn], sizes[:turn], limit, policy)
        assert sum(sizes[start:turn]) <= limit
        assert start >= previous_start  # what was left out stays out (a stable prefix)
        if start != previous_start:
            cut_turns.append(turn)
        previous_start = start
    assert window.cuts == len(cut_turns)
    # Each cut frees at least (1 - retain) * limit minus one turn (<= 60 tokens),
    # so cuts are at most total / freed + 1 apart; with auto every turn could cut.
    freed = max(1.0, (1 - retain) * limit - 60)
    assert len(cut_turns) <= sum(sizes) / freed + 1


def test_auto_drops_just_enough_and_disabled_fails() -> None:
    sizes = [100] * 10  # 1,000 tokens
    keys = [str(i) for i in range(10)]
    auto = HistoryWindow()
    assert auto.fit(keys, sizes, 950, Truncation("auto")) == 1  # one turn out, not more
    ratio = HistoryWindow()
    assert ratio.fit(keys, sizes, 950, Truncation("retention_ratio", 0.5)) == 6  # 400 <= 475
    with pytest.raises(ContextOverflow, match='"disabled"'):
        HistoryWindow().fit(keys, sizes, 950, Truncation("disabled"))
    assert HistoryWindow().fit(keys, sizes, 1000, Truncation("disabled")) == 0


def test_a_newest_turn_over_the_limit_fails_even_with_truncation() -> None:
    with pytest.raises(ContextOverflow, match="newest turn alone needs 500"):
        HistoryWindow().fit(["a", "b"], [10, 500], 400, Truncation("auto"))


def test_deleted_items_are_forgotten_and_inserted_ones_seen() -> None:
    window = HistoryWindow()
    policy = Truncation("retention_ratio", 0.5)
    assert window.fit(["a", "b", "c", "d"], [40, 40, 40, 40], 100, policy) == 3
    # "b" deleted since: the kept history still starts at "d".
    assert window.fit(["a", "c", "d", "e"], [40, 40, 40, 10], 100, policy) == 2
    assert window.start(["c", "d", "e"]) == 1


def test_settings_from_the_wire_and_the_input_limit() -> None:
    assert Truncation.from_wire("auto") == Truncation("auto")
    assert Truncation.from_wire("disabled") == Truncation("disabled")
    wire = {"type": "retention_ratio", "retention_ratio": 0.7, "token_limits": {}}
    assert Truncation.from_wire(wire) == Truncation("retention_ratio", 0.7, None)
    wire["token_limits"] = {"post_instructions": 900}
    assert Truncation.from_wire(wire).post_instructions == 900
    # A 32k model with 4,096 output tokens keeps 28,672 minus the instructions.
    assert input_limit(
        context_tokens=32768, fixed_tokens=448, max_output_tokens=4096, post_instructions=None
    ) == (32768 - 448 - 4096)
    assert (
        input_limit(
            context_tokens=4096, fixed_tokens=96, max_output_tokens=None, post_instructions=1000
        )
        == 1000
    )
    assert input_limit(
        context_tokens=4096, fixed_tokens=96, max_output_tokens=None, post_instructions=None
    ) == (4096 - 96 - 512)
    assert (
        input_limit(
            context_tokens=None, fixed_tokens=5, max_output_tokens=None, post_instructions=None
        )
        is None
    )
