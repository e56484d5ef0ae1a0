"""``bench/load.py --record`` runs a recording server beside a plain one and both lose nothing.

The recording server must really record: one file per session it served (each
step's fresh server's warm-up and its sessions), so a cost near zero cannot
come from a recorder that never ran; the A/A control records nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
ROW = re.compile(
    r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+-?[\d.]+%\s+[\d.]+\s+[\d.]+\s+(\d+)/(\d+)", re.M
)
sys.path.insert(0, str(BENCH))

from load_recording import throughput_cost  # noqa: E402


def test_both_servers_carry_every_step_and_every_session_is_recorded() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "load.py"), "--record", "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {int(m[1]): m for m in ROW.finditer(result.stdout)}
    assert sorted(rows) == [2, 4], result.stdout
    for match in rows.values():
        assert (int(match[4]), int(match[5])) == (0, 0), result.stdout  # nothing lost, either
    written = re.search(r"recordings written: (\d+) files", result.stdout)
    assert written is not None and int(written[1]) == (1 + 2) + (1 + 4), result.stdout  # warm-ups
    assert re.search(r"recording costs: -?[\d.]+ % of throughput", result.stdout)


def test_the_control_run_records_nothing_and_says_it_measured_the_spread() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "load.py"), "--record", "--control", "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "recordings written: 0 files" in result.stdout, result.stdout
    assert "the A/A control's spread:" in result.stdout


def test_the_cost_is_the_share_of_sessions_recording_takes() -> None:
    assert round(throughput_cost(off_ms=9.5, on_ms=10.0), 9) == 5.0
    assert throughput_cost(off_ms=10.0, on_ms=10.0) == 0.0
    assert throughput_cost(off_ms=11.0, on_ms=10.0) < 0  # noise can make it negative
    assert throughput_cost(off_ms=1.0, on_ms=0.0) == 0.0  # no CPU tick counted: no figure
