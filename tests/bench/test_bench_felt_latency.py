"""The felt latency benchmark still runs end to end, both arms (no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "felt_latency.py"


def test_felt_latency_benchmark_reports_both_arms_and_the_split() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"speculative replies off: \d/2 turns completed with audio", out), out
    assert "speculative replies on (default): 2/2 turns completed with audio" in out, out
    assert re.search(r"last voiced -> first audio\s+p50\s+\d+ ms", out), out
    assert re.search(r"speech_stopped -> first audio\s+p50\s+\d+ ms", out), out
    assert re.search(r"held replies at the confirmed turns: \{.*'released': [12]", out), out
    assert re.search(r"p50 off/on: [\d.]+x", out), out


def test_felt_latency_benchmark_runs_with_semantic_vad() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--turn-detection", "semantic_vad"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "semantic_vad, default eagerness" in out, out
    assert "speculative replies on (default): 2/2 turns completed with audio" in out, out
    assert re.search(r"goal \(semantic_vad\) p50 <= 450 ms", out), out
