"""The codec benchmark still runs and reports every ratio (no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "codec.py"


def test_codec_benchmark_reports_a_ratio_per_payload() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for payload in ("audio delta", "session.updated", "response.done", "unknown type"):
        assert re.search(
            rf"^{re.escape(payload)}\s+\d+\s+[\d,]+\s+[\d,]+\s+[\d.]+x", result.stdout, re.MULTILINE
        ), result.stdout
    assert "unknown type -> rtagents: UnknownEvent" in result.stdout
    assert re.search(r"import rtagents: [\d.]+ ms", result.stdout)
