"""Running ``bench/load.py`` in a comparison mode (``--bare``, ``--record``) for a test.

Both modes print one row per step with two servers' CPU per audio second, a last
column, two p99s, ``lost`` as ``first/second`` and which server started first;
:func:`quick_rows` runs the mode's ``--quick`` sitting, checks it exited cleanly
with a row for each of its steps (2 and 4 sessions) and that neither server lost
anything, and returns the output for the mode's own checks.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
ROW = re.compile(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+\S+\s+[\d.]+\s+[\d.]+\s+(\d+)/(\d+)", re.M)


def quick_rows(*flags: str) -> str:
    """``bench/load.py FLAGS --quick``'s output, once every step passed with nothing lost."""
    result = subprocess.run(
        [sys.executable, str(BENCH / "load.py"), *flags, "--quick"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {int(m[1]): m for m in ROW.finditer(result.stdout)}
    assert sorted(rows) == [2, 4], result.stdout
    for match in rows.values():
        assert (int(match[4]), int(match[5])) == (0, 0), result.stdout  # nothing lost, either
    return result.stdout
