"""The relay benchmark still runs: three processes, both paths, every row (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "relay.py"


def test_relay_benchmark_reports_direct_and_relayed_rows() -> None:
    command = [sys.executable, str(BENCH), "--rounds", "6", "--block", "2", "--respond-every", "2"]
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {"every request", "response.create", "response (create to done)"} <= set(rows)
    for row in rows.values():
        assert row["n"] > 0 and row["relay_p50_ms"] > 0 and row["direct_p50_ms"] > 0
