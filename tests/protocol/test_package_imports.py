"""``import rtagents.protocol`` stays cheap: no openai, pydantic or numpy."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, rtagents.protocol, rtagents.protocol.lifecycle;"
        "print(sorted(m for m in ('openai', 'pydantic', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
