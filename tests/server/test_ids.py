"""Server ids never repeat: within a process, across its digit widths, across processes."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtagents.server import ids


@pytest.fixture(autouse=True)
def fresh_counter() -> Iterator[None]:
    """Each test starts on its own stem; later tests never see a moved counter."""
    ids.restart()
    yield
    ids.restart()


def test_ids_are_shaped_like_the_hosted_apis() -> None:
    makers = {
        "event_": ids.event_id,
        "item_": ids.item_id,
        "resp_": ids.response_id,
        "call_": ids.call_id,
        "sess_": ids.session_id,
        "conv_": ids.conversation_id,
    }
    for prefix, make in makers.items():
        identifier = make()
        tail = identifier.removeprefix(prefix)
        assert identifier.startswith(prefix)
        assert len(tail) == ids.TAIL_LENGTH and tail.isalnum() and tail.isascii()


@given(st.integers(min_value=0, max_value=ids.COUNTER_LIMIT - 1))
def test_counter_encoding_is_fixed_width_and_decodes_back(number: int) -> None:
    digits = ids.encode(number, ids.COUNTER_DIGITS)
    assert len(digits) == ids.COUNTER_DIGITS
    assert ids.decode(digits) == number


@given(st.integers(min_value=0, max_value=ids.COUNTER_LIMIT - 2))
def test_encoding_keeps_numeric_order(number: int) -> None:
    # Lexicographic order equals numeric order: the uniqueness checks below rely on it.
    assert ids.encode(number, ids.COUNTER_DIGITS) < ids.encode(number + 1, ids.COUNTER_DIGITS)


def test_encode_refuses_numbers_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        ids.encode(ids.COUNTER_LIMIT, ids.COUNTER_DIGITS)
    with pytest.raises(ValueError, match="does not fit"):
        ids.encode(-1, ids.COUNTER_DIGITS)
    with pytest.raises(ValueError, match="tail"):
        ids.split_tail("item_short")


def test_twenty_million_ids_in_a_row_never_repeat() -> None:
    # Strictly increasing tails (one stem, order-preserving encoding) means
    # no two are equal, checked in constant memory.
    tail = ids._tail
    previous = tail()
    for _ in itertools.repeat(None, 20_000_000):
        current = tail()
        assert current > previous
        previous = current


def test_a_few_million_real_ids_are_distinct_and_decode_to_their_counter() -> None:
    makers = itertools.cycle([ids.event_id, ids.item_id, ids.response_id])
    seen: set[str] = set()
    tails: set[str] = set()
    stem = ids.split_tail(ids.event_id())[0]
    for expected, make in zip(range(1, 2_000_001), makers, strict=False):
        identifier = make()
        seen.add(identifier)
        tails.add(identifier.rpartition("_")[2])
        if expected % 9973 == 0:
            assert ids.split_tail(identifier) == (stem, expected)
    # The counter is shared by every prefix, so even the tails never repeat.
    assert len(seen) == len(tails) == 2_000_000


@pytest.mark.parametrize("width", range(1, ids.COUNTER_DIGITS))
def test_counter_runs_past_every_digit_width_boundary(width: int) -> None:
    boundary = ids.BASE**width
    start = max(0, boundary - 5000)
    ids.restart(start=start)
    made = [ids.item_id() for _ in range(10_000)]
    counters = [ids.split_tail(identifier)[1] for identifier in made]
    assert counters == list(range(start, start + 10_000))
    assert len(set(made)) == len(made)
    assert made == sorted(made)


def test_counter_past_its_limit_moves_to_a_new_stem() -> None:
    ids.restart(start=ids.COUNTER_LIMIT - 3)
    made = [ids.event_id() for _ in range(6)]
    stems = [ids.split_tail(identifier)[0] for identifier in made]
    assert len(set(made)) == 6
    assert stems[0] == stems[2] != stems[3] == stems[5]
    assert [ids.split_tail(identifier)[1] for identifier in made[3:]] == [0, 1, 2]


def test_two_processes_make_disjoint_ids() -> None:
    script = "from rtagents.server import ids\nfor _ in range(50_000): print(ids.event_id())"
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    first, second = (set(run.stdout.split()) for run in runs)
    assert len(first) == len(second) == 50_000
    assert not first & second


def test_a_forked_child_makes_ids_its_parent_never_makes() -> None:
    reader, writer = os.pipe()
    with warnings.catch_warnings():
        # Forking a process that has threads is warned about; the child below
        # only makes ids and writes them.
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(reader)
        made = "\n".join(ids.item_id() for _ in range(20_000))
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(made.encode())
        os._exit(0)
    os.close(writer)
    parent_made = {ids.item_id() for _ in range(20_000)}
    with os.fdopen(reader, "rb") as pipe:
        child_made = set(pipe.read().decode().split())
    os.waitpid(child, 0)
    assert len(child_made) == 20_000
    assert not parent_made & child_made
    assert {ids.split_tail(i)[0] for i in child_made}.isdisjoint(
        {ids.split_tail(i)[0] for i in parent_made}
    )
