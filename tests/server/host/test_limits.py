"""The limits table: safe defaults, and every limit documented in docs/server.md."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import MIB, Limits

DOC = Path(__file__).resolve().parents[3] / "docs" / "server.md"


def _limits_section() -> str:
    text = DOC.read_text()
    return text[text.index("## Limits") :].split("\n## ", 1)[0]


def test_every_limit_has_a_row_in_the_docs() -> None:
    rows = re.findall(r"^\| `(\w+)` \|", _limits_section(), flags=re.MULTILINE)
    assert sorted(rows) == sorted(field.name for field in dataclasses.fields(Limits)), (
        "docs/server.md's Limits table must list every Limits field, once"
    )


def test_every_limit_is_positive_and_the_hosted_figures_hold() -> None:
    limits = ServerConfig().limits
    assert all(getattr(limits, field.name) > 0 for field in dataclasses.fields(Limits))
    assert limits.input_buffer_bytes == limits.append_bytes == 15 * MIB
    assert limits.frame_bytes > limits.append_bytes * 4 // 3  # a full append fits in a frame
