"""The load benchmark still runs end to end at a tiny size (no timing is asserted).

It starts its own server process, so this also checks that a few real-time
sessions with server VAD get every expected event (the ``lost`` column).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"
ROW = re.compile(
    r"^\s+(\d+)\s+\d+\s+\d+\s+\d+(?:\s+\S+){4}\s+\S+x\s+(\d+)\s+(\d+)\s+(\S+)", re.MULTILINE
)


def test_load_ramp_reports_a_row_per_step_and_loses_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    rows = {int(m[1]): m for m in ROW.finditer(result.stdout) if m}
    assert sorted(rows) == [1, 2, 4], result.stdout
    for match in rows.values():
        assert int(match[2]) > 0  # frames arrived
        assert int(match[3]) == 0, result.stdout  # and none was lost
    assert re.search(r"^largest N passing: \d+$", result.stdout, re.MULTILINE)


def test_soak_reports_rss_samples_and_a_verdict() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--soak", "3", "--sessions", "2", "--sample-every", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^\s+\d+\s+[\d.]+\s+[+-][\d.]+%$", result.stdout, re.MULTILINE)) >= 2
    assert re.search(r"^RSS (flat|NOT flat) after warm-up: drift [\d.]+ %", result.stdout, re.M)
    assert "failed sessions: 0" in result.stdout
    assert "missing events: 0 {}" in result.stdout
