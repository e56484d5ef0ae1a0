"""The agents benchmark still runs: per-turn overhead against a bare session, handoff to audio.

Times are printed, never asserted; what is checked is that every row and the
ratio come out.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "agents.py"


def test_agents_bench_reports_overhead_and_handoff_latency() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    for name in (
        "bare session text turn",
        "agent session text turn",
        "handoff call -> first audio",
    ):
        assert re.search(rf"^{re.escape(name)}\s+[\d.]+\s+[\d.]+\s+\d+$", result.stdout, re.M), (
            result.stdout
        )
    assert re.search(r"^agent/bare p50 ratio: [\d.]+", result.stdout, re.M), result.stdout
