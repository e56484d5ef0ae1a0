"""The many-voices benchmark runs end to end with concurrent sessions (no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "voices.py"


def test_voices_benchmark_reports_one_row_per_session_count() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # Every turn of every concurrent session got its reply's audio.
    assert re.search(r"^\| 1 \| 2/2 \| \d+ \| \d+ \| \d+ \| \d+ / \d+ \|$", out, re.M), out
    assert re.search(r"^\| 2 \| 4/4 \| \d+ \| \d+ \| \d+ \| \d+ / \d+ \|$", out, re.M), out
