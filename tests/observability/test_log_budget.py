"""A session's log budget: first of each kind written, repeats counted, nothing dropped silently."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from rtagents.observability.log_budget import SUMMARY_KINDS, LogBudget


class Reports:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, object]]] = []

    def __call__(self, message: str, fields: Mapping[str, object]) -> None:
        self.lines.append((message, dict(fields)))

    @property
    def messages(self) -> list[str]:
        return [message for message, _ in self.lines]


@pytest.fixture
def reports() -> Reports:
    return Reports()


def _kind(name: str) -> dict[str, object]:
    return {"kind": name}


def test_the_first_of_a_kind_is_written_and_repeats_are_counted(reports: Reports) -> None:
    budget = LogBudget(10, reports)
    assert budget.admit("a", lambda: _kind("a"))
    assert [budget.admit("a", lambda: _kind("a")) for _ in range(5)] == [False] * 5
    assert budget.admit("b", lambda: _kind("b"))
    budget.close()
    assert reports.lines == [("5 more like this", {"kind": "a"})]


def test_describe_is_called_once_per_kind_written(reports: Reports) -> None:
    calls = []
    budget = LogBudget(10, reports)
    for _ in range(3):
        budget.admit("a", lambda: calls.append(1) or _kind("a"))  # type: ignore[func-returns-value]
    assert calls == [1]


def test_repeats_are_reported_so_far_at_each_power_of_ten(reports: Reports) -> None:
    budget = LogBudget(10, reports)
    for _ in range(1 + 10_000):
        budget.admit("a", lambda: _kind("a"))
    assert reports.messages == [
        "100 more like this so far",
        "1000 more like this so far",
        "10000 more like this so far",
    ]
    assert budget.written == 4  # the record and its three reports
    budget.close()
    assert reports.messages[-1] == "10000 more like this"


def test_past_the_limit_new_kinds_and_reports_are_counted(reports: Reports) -> None:
    budget = LogBudget(2, reports)
    assert budget.admit("a", lambda: _kind("a"))
    assert budget.admit("b", lambda: _kind("b"))
    assert not budget.admit("c", lambda: _kind("c"))
    for _ in range(150):
        budget.admit("a", lambda: _kind("a"))  # its report at 100 does not fit either
    assert reports.lines == []
    budget.close()
    assert reports.messages == [
        "150 more like this",
        "1 records not written: the session's log budget (session_log_records=2) was spent",
    ]


def test_the_end_summary_names_the_most_repeated_kinds_and_sums_the_rest(
    reports: Reports,
) -> None:
    budget = LogBudget(100, reports)
    kinds = SUMMARY_KINDS + 3
    for number in range(kinds):
        for _ in range(number + 2):  # kind n is repeated n + 1 times
            budget.admit(number, lambda n=number: _kind(f"k{n}"))  # type: ignore[misc]
    budget.close()
    *named, rest = reports.lines
    assert [fields["kind"] for _, fields in named] == [f"k{n}" for n in range(kinds - 1, 2, -1)]
    assert named[0][0] == f"{kinds} more like this"
    assert rest == ("6 more records of 3 other kinds", {})


def test_closing_twice_reports_once(reports: Reports) -> None:
    budget = LogBudget(1, reports)
    budget.admit("a", lambda: _kind("a"))
    budget.admit("a", lambda: _kind("a"))
    budget.admit("b", lambda: _kind("b"))
    budget.close()
    budget.close()
    assert len(reports.lines) == 2
