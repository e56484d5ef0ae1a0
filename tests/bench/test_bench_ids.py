"""The id benchmark still runs and reports each ratio (no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ids.py"


def test_ids_benchmark_reports_a_ratio_per_candidate() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for name in ("uuid4().hex", "secrets.token_urlsafe(16)"):
        assert re.search(rf"^{re.escape(name)}\s+\d+\s+[\d.]+x$", result.stdout, re.M)
    assert re.search(r"the id is [\d.]+% of it", result.stdout)
