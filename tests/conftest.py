"""Suite-wide settings.

Under ``CI=true`` hypothesis runs derandomised, so a landing never depends on
the luck of the draw; local runs keep exploring new examples (and keep the
failures they find in ``.hypothesis/``).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")
