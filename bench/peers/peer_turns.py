"""Pure helpers of the peer bench: turn order, statistics, the pinned requirements.

Kept free of pipecat imports so ``make test`` can check them
(tests/bench/test_bench_peers.py) without the peer virtualenv. The turn order
and the percentiles are ``bench/felt_latency.py``'s own (bench/ on ``sys.path``).
"""

from __future__ import annotations

import re
from pathlib import Path

from felt_latency import abba, percentile

__all__ = ["abba_order", "p50_p90", "percentile", "unpinned", "verdict"]

SYSTEMS = ("rtagents", "pipecat")
GOAL_RATIO = 2.5  # issue 15: rtagents' p50 at least 2.5x lower than pipecat's
_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9_,-]+\])?==[A-Za-z0-9.+!-]+$")


def abba_order(turns_per_system: int) -> list[str]:
    """Which system speaks each turn: A B B A, then B A A B, and again (felt_latency's
    order), so each gets every position of a four-turn block equally often and
    neither always follows the other."""
    return [SYSTEMS[0] if abba(turn) else SYSTEMS[1] for turn in range(2 * turns_per_system)]


def p50_p90(values: list[float]) -> tuple[float, float]:
    return percentile(values, 50), percentile(values, 90)


def verdict(rtagents_p50: float, pipecat_p50: float, goal: float = GOAL_RATIO) -> str:
    """The ratio pipecat/rtagents at p50 against the goal, as one line."""
    ratio = pipecat_p50 / rtagents_p50
    met = "met" if ratio >= goal else "NOT met"
    return f"pipecat p50 / rtagents p50 = {ratio:.2f}x (goal >= {goal:g}x: {met})"


def unpinned(path: Path) -> list[str]:
    """Requirement lines of ``path`` that do not pin one exact version with ``==``."""
    bad = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not _PINNED.match(line):
            bad.append(line)
    return bad
