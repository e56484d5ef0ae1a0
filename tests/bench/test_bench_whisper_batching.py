"""The Whisper batching benchmark runs, and a batch hears what the calls one by one hear."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "whisper_batching.py"


def test_batching_benchmark_reports_both_sizes_and_the_same_texts() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--repeats", "1"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for clips in (2, 4):
        row = rf"^\| {clips} \| \d+ / \d+ \| \d+ \| \d+\.\d\dx \| \d+\.\d\dx longer \|$"
        assert re.search(row, out, re.M), out
    assert "the texts differ" not in out
    assert "capital of" in out and "joke about cats" in out
