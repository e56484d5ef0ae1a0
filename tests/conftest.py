"""Suite-wide settings.

Under ``CI=true`` hypothesis runs derandomised, so a landing never depends on
the luck of the draw; local runs keep exploring new examples (and keep the
failures they find in ``.hypothesis/``).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    """Register the conformance marker, which tools/conformance_matrix.py reads into a doc.

    ``@pytest.mark.conformance(*keys, status=..., client=..., transport=..., note=...)``:
    ``keys`` are GA event types or session field paths as docs/conformance.md spells them;
    ``status`` is supported / no-effect / refused; ``client`` is openai, openai-agents,
    agents-realtime (the official clients), rtagents, raw or none (a unit test);
    ``transport`` is websocket, webrtc or in-process. Arguments must be literals: the
    generator reads them with ``ast`` (``*NAME`` of a module-level literal tuple is spread).
    """
    config.addinivalue_line(
        "markers",
        "conformance(*keys, status, client, transport, note=''): what the test proves about "
        "GA events or session fields (docs/conformance.md)",
    )
