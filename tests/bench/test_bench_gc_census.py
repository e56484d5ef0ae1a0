"""The collector census runs end to end at a tiny size (no count or time is asserted exactly)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gc_census.py"


def test_the_census_counts_live_objects_and_cyclic_garbage_per_session() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--sessions", "2", "--turns", "1", "--top", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    live = re.search(r"^live tracked objects per session: (\d+)$", out, re.MULTILINE)
    garbage = re.search(r"^cyclic garbage per ended session: (\d+)$", out, re.MULTILINE)
    assert live and garbage, out
    assert int(live[1]) > 0  # a running session holds objects the collector walks
    assert len(re.findall(r"^\s+[\d.]+ \S+$", out, re.MULTILINE)) >= 2, out  # top types listed
    assert re.search(r"^full collection .*: [\d.]+ ms$", out, re.MULTILINE), out
