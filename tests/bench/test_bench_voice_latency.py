"""The voice latency benchmark still runs end to end and reports its ratio (no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "voice_latency.py"


def test_voice_latency_benchmark_reports_baseline_and_ratio() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"baseline \(sequential .*\): p50\s+\d+ ms", out), out
    assert "2/2 turns completed with audio" in out, out
    assert re.search(r"ratio baseline/rtagents p50: [\d.]+x", out), out
