"""The codec benchmark still runs and reports every ratio, against both baselines.

No timing is asserted: the figures live in docs/benchmarks.md.
"""

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
        # rtagents, openai (ratio), openai-agents (ratio), then the goals' verdicts
        assert re.search(
            rf"^{re.escape(payload)}\s+\d+\s+[\d,]+\s+[\d,]+\s+[\d.]+x\s+[\d,]+\s+[\d.]+x\s+\S",
            result.stdout,
            re.MULTILINE,
        ), result.stdout
    assert re.search(r"^unknown type .* >= 1.5x (ok|MISSED)$", result.stdout, re.MULTILINE)
    assert "unknown type -> rtagents: UnknownEvent" in result.stdout
    assert "openai-agents: ValidationError" in result.stdout
    assert re.search(r"import rtagents: [\d.]+ ms", result.stdout)
