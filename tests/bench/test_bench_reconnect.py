"""The reconnect benchmark still runs: drops through the proxy end in resumed sessions.

Times are printed, never asserted; what is checked is that every drop was
resumed (not rebuilt) under both policies.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "reconnect.py"


def test_reconnect_reports_median_and_p95_per_policy() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for policy in ("default backoff", "no backoff"):
        row = re.search(
            rf"^{policy}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)$", result.stdout, re.MULTILINE
        )
        assert row, result.stdout
        assert row[4] == "0"  # resumed every time, never rebuilt
