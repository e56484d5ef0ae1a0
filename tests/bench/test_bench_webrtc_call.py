"""The WebRTC call benchmark still runs and reports its figures (no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "webrtc_call.py"


def test_webrtc_benchmark_reports_open_times_and_barge_in_accuracy() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"websocket [\d.]+ ms, webrtc [\d.]+ ms", result.stdout), result.stdout
    assert re.search(r"webrtc / websocket: [\d.]+x", result.stdout), result.stdout
    accuracy = re.findall(r"difference ([+-]\d+) ms", result.stdout)
    assert len(accuracy) == 2, result.stdout
    # The cut is where the caller's hearing stopped, to within the one character it split.
    assert all(abs(int(ms)) <= 50 for ms in accuracy), result.stdout
