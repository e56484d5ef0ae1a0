"""The Redis resume-log bench still runs: both setups report their turns (times not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rtagents.testing.redis_server import MISSING_REASON, redis_binary

BENCH = Path(__file__).resolve().parents[2] / "bench" / "redis_resume.py"


def test_redis_resume_reports_both_setups() -> None:
    if redis_binary() is None:
        pytest.skip(MISSING_REASON)
    result = subprocess.run(
        [sys.executable, str(BENCH), "--turns", "3", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for setup in ("memory", "redis"):
        assert re.search(rf"^{setup}\s*: first delta median .* \(3 turns\)$", result.stdout, re.M)
    assert "redis/memory, response.done median:" in result.stdout
