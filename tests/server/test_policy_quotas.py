"""The quota book on its own: exact counts, a bounded memory, and the Retry-After it computes.

The book is the part of the policy that grows with clients (one entry per
principal), so these check that it forgets principals once nothing of theirs
is open or inside the window, on a FakeClock.
"""

from __future__ import annotations

import pytest

from rtagents.server.auth import Refusal
from rtagents.server.policy.quotas import QuotaBook
from rtagents.server.policy.table import Policy
from rtagents.testing.clock import FakeClock


def test_a_book_without_quotas_counts_nothing() -> None:
    book = QuotaBook(Policy(), FakeClock())
    tickets = [book.take("api_key") for _ in range(100)]
    assert not any(ticket.held for ticket in tickets)
    assert (book.open_sessions("api_key"), book.tracked()) == (0, 0)


def test_releasing_twice_gives_back_one_place() -> None:
    book = QuotaBook(Policy(concurrent_sessions=2), FakeClock())
    first = book.take("api_key")
    book.take("api_key")
    first.release()
    first.release()
    assert book.open_sessions("api_key") == 1
    book.take("api_key")  # the place given back once is free again
    with pytest.raises(Refusal) as refused:
        book.take("api_key")
    assert refused.value.code == "concurrent_session_quota_exceeded"


def test_the_window_says_when_a_place_frees() -> None:
    clock = FakeClock()
    book = QuotaBook(Policy(sessions_per_window=2, quota_window_s=60), clock)
    book.take("secret:a").release()
    clock.advance(20)
    book.take("secret:a").release()
    with pytest.raises(Refusal) as refused:
        book.take("secret:a")
    assert (refused.value.status, refused.value.headers["Retry-After"]) == (429, "40")
    assert "This client secret opened 2 sessions" in refused.value.message
    book.take("secret:b")  # another principal has its own window
    clock.advance(40)
    assert book.take("secret:a").held


def test_principals_are_forgotten_once_out_of_the_window() -> None:
    clock = FakeClock()
    book = QuotaBook(Policy(sessions_per_window=5, quota_window_s=60), clock)
    for index in range(1500):
        book.take(f"secret:{index}").release()
    assert book.tracked() == 1500  # their starts are still inside the window
    clock.advance(61)
    book.take("secret:new")
    assert book.tracked() == 1


def test_a_concurrent_only_quota_keeps_no_history() -> None:
    book = QuotaBook(Policy(concurrent_sessions=1), FakeClock())
    for index in range(50):
        book.take(f"secret:{index}").release()
    assert book.tracked() == 0
