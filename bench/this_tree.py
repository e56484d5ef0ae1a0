"""Imported for its effect, before ``rtagents``: this checkout's ``src`` goes on ``sys.path``.

Last, not first: a ``PYTHONPATH`` (another tree, for a before/after run of the
same bench) and the installed package win; this tree's ``src`` only serves a
checkout where the package is not installed.
"""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
if SRC not in sys.path:
    sys.path.append(SRC)
