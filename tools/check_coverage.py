"""Fail unless branch+line coverage of one subpackage reaches a floor.

pytest-cov reports one total; the quality bar is set per layer (protocol/ must
stay at or above 95 %), so this reads coverage's JSON report and sums only the
files under the given package path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(report: str, package: str, floor: str) -> int:
    files = json.loads(Path(report).read_text())["files"]
    covered = total = 0
    for name, data in files.items():
        if package not in Path(name).as_posix():
            continue
        summary = data["summary"]
        covered += summary["covered_lines"] + summary.get("covered_branches", 0)
        total += summary["num_statements"] + summary.get("num_branches", 0)
    if total == 0:
        print(f"coverage: no files under {package}")
        return 1
    percent = 100.0 * covered / total
    print(f"coverage of {package}: {percent:.1f} % (floor {floor} %)")
    return 0 if percent >= float(floor) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
