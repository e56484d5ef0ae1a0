"""A recording's parts: each opens with its own header, and a part ends between lines."""

from __future__ import annotations

import json
from pathlib import Path

from rtagents.observability.recording_format import Header
from rtagents.observability.recording_parts import RecordingParts


def _parts(path: Path, rotate_bytes: int) -> RecordingParts:
    return RecordingParts(path, rotate_bytes, Header(side="server", transport="websocket"))


def test_lines_past_the_size_start_a_new_part_with_its_header(tmp_path: Path) -> None:
    parts = _parts(tmp_path / "s.jsonl", 400)
    lines = [json.dumps({"kind": "mark", "n": n}) + "\n" for n in range(30)]
    parts.write(lines[:10])
    parts.write(lines[10:])
    parts.close()
    assert [p.name for p in parts.paths][:2] == ["s.jsonl", "s.1.jsonl"]
    records = []
    for index, path in enumerate(parts.paths):
        header, *rest = path.read_text().splitlines()
        assert json.loads(header)["part"] == index
        assert path.stat().st_size <= 400 or len(rest) == 1  # never empty, never cut mid-line
        records += [json.loads(line)["n"] for line in rest]
    assert records == list(range(30))  # every line once, in order


def test_a_line_longer_than_a_part_gets_a_part_of_its_own(tmp_path: Path) -> None:
    parts = _parts(tmp_path / "s.jsonl", 200)
    parts.write(["x" * 10 + "\n", "y" * 500 + "\n", "z" * 10 + "\n"])
    parts.close()
    bodies = [path.read_text().splitlines()[1:] for path in parts.paths]
    assert bodies == [["x" * 10], ["y" * 500], ["z" * 10]]
