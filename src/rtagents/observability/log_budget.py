"""A session's log budget: the first record of each kind written, repeats counted and summarised.

A client can make a server log as often as it can send a bad event. Without
a bound, 100,000 bad events were 200,000 log records. With one budget per
session, each *kind* of failure (direction, outcome, event type, error code,
param) is written once; its repeats are only counted, reported "so far" at
100, 1,000, 10,000... and in full when the session ends. Past ``limit``
records written, new kinds are counted too. Nothing is dropped silently:
every record not written is in a summary line.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

# Kinds summarised one line each at the end of a session; the rest share a line.
SUMMARY_KINDS = 20
# The first periodic report of a kind's repeats; then every tenfold.
FIRST_REPORT = 100

Report = Callable[[str, Mapping[str, object]], None]


@dataclass(slots=True)
class _Kind:
    fields: Mapping[str, object]
    repeats: int = 0
    next_report: int = FIRST_REPORT


@dataclass(slots=True)
class LogBudget:
    """Decides, per record, whether a session writes it; ``report`` writes the summaries.

    ``report(message, fields)`` is called for each summary line (the caller
    logs it with the session's fields); it is never refused.
    """

    limit: int
    report: Report
    written: int = 0
    # Records of kinds first seen after the budget was spent.
    not_written: int = 0
    _kinds: dict[Hashable, _Kind] = field(default_factory=dict)

    def admit(self, key: Hashable, describe: Callable[[], Mapping[str, object]]) -> bool:
        """Whether to write a record of kind ``key``.

        ``describe()`` gives the fields naming the kind in its summaries; it is
        called once per kind written, not per record.
        """
        kind = self._kinds.get(key)
        if kind is not None:
            kind.repeats += 1
            if kind.repeats == kind.next_report:
                kind.next_report *= 10
                if self._spend():
                    self.report(f"{kind.repeats} more like this so far", kind.fields)
            return False
        if not self._spend():
            self.not_written += 1
            return False
        # Only kinds written are remembered, so the map holds at most ``limit``.
        self._kinds[key] = _Kind(describe())
        return True

    def close(self) -> None:
        """Write the final summaries: the most repeated kinds, the rest, what was not written."""
        repeated = sorted(
            (kind for kind in self._kinds.values() if kind.repeats),
            key=lambda kind: kind.repeats,
            reverse=True,
        )
        for kind in repeated[:SUMMARY_KINDS]:
            self.report(f"{kind.repeats} more like this", kind.fields)
        rest = repeated[SUMMARY_KINDS:]
        if rest:
            count = sum(kind.repeats for kind in rest)
            self.report(f"{count} more records of {len(rest)} other kinds", {})
        if self.not_written:
            self.report(
                f"{self.not_written} records not written: the session's log budget "
                f"(session_log_records={self.limit}) was spent",
                {},
            )
        self._kinds.clear()
        self.not_written = 0

    def _spend(self) -> bool:
        if self.written >= self.limit:
            return False
        self.written += 1
        return True
