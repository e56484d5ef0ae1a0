"""The premature-reply benchmark still runs end to end on its committed set (no rate asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_the_pause_set_matches_its_committed_manifest() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "pause_clips.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all clips match the manifest" in result.stdout, result.stdout


def test_premature_replies_benchmark_reports_a_rate_per_pause_length() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "premature_replies.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"pause 300 ms: \d/2 premature", out), out
    assert re.search(r"pause 600 ms: \d/2 premature", out), out
    assert re.search(r"overall: \d/4 premature \([\d.]+%\)", out), out
    assert "utterances whose whole turn never stopped: 0" in out, out
