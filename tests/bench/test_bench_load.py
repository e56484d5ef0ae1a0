"""The load benchmark still runs end to end at a tiny size (no timing is asserted).

It starts its own server process, so this also checks that a few real-time
sessions with server VAD get every expected event (the ``lost`` column).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rtagents.testing.redis_server import MISSING_REASON, redis_binary

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"
ROW = re.compile(
    r"^\s+(\d+)\s+\d+\s+\d+\s+\d+(?:\s+\S+){4}\s+\S+x\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\S+)",
    re.MULTILINE,
)


def test_load_ramp_reports_a_row_per_step_and_loses_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    rows = {int(m[1]): m for m in ROW.finditer(result.stdout) if m}
    assert sorted(rows) == [1, 2, 4], result.stdout
    assert re.search(r"lost\s+gc max\s+result$", result.stdout, re.MULTILINE)  # pauses, ms
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


@pytest.mark.skipif(redis_binary() is None, reason=MISSING_REASON)
def test_workers_compare_one_and_two_in_abba_order_and_time_resume_after_kills() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--workers", "2", "--kills", "1", "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    blocks = re.findall(r"^== (\d) workers? ==$", result.stdout, re.MULTILINE)
    assert blocks == ["1", "2", "2", "1"], result.stdout
    lost = [int(m[3]) for m in ROW.finditer(result.stdout)]
    assert len(lost) == 12 and set(lost) == {0}, result.stdout  # 3 rows a block, none lost
    assert re.search(r"^ratio 2 workers / 1: [\d.]+x", result.stdout, re.MULTILINE)
    resumed = re.search(r"\(1 kills, (\d+) sessions resumed\).*failed: (\d+)$", result.stdout, re.M)
    assert resumed is not None, result.stdout
    assert int(resumed[1]) > 0 and int(resumed[2]) == 0
