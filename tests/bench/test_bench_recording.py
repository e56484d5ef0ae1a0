"""The recording benchmark still runs and reports its ratios and sizes (no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "recording.py"


def test_recording_benchmark_reports_both_setups_and_the_hour() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    for setup in ("websocket", "memory"):
        assert re.search(
            rf"^{setup} .* on/off [\d.]+x -> recording costs -?[\d.]+ %$", result.stdout, re.M
        )
    assert re.search(r"one hour of voice .*: ~[\d,]+ MiB elided", result.stdout)
