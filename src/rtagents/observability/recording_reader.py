"""Reading a recording: its header checked, then its records across its rotated parts.

Format v2 (``recording_format.py``, docs/recording.md); ``rtagents trace``
and ``rtagents replay`` read through :class:`RecordingReader`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..protocol.json_depth import parse_untrusted
from .recording_format import Header, RecordingError, decode_audio
from .recording_runs import expand_appends

_PART_NAME = re.compile(r"^(?P<base>.+)\.(?P<part>\d+)\.jsonl$")


class RecordingReader:
    """Reads a recording across its parts: ``header``, then records as dicts in order.

    A last line cut short (the writer was killed) is skipped and sets
    :attr:`truncated`; any other bad line raises :class:`RecordingError`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = first_part(Path(path))
        if not self.path.is_file():
            raise RecordingError(f"{self.path}: no such recording file")
        self.parts = _parts(self.path)
        self.truncated = False
        with self.path.open("rb") as file:
            first = file.readline()
        self.header = Header.from_dict(_json_or_none(first), where=str(self.path))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.records()

    def records(self) -> Iterator[dict[str, Any]]:
        for index, path in enumerate(self.parts):
            yield from self._part_records(index, path)

    def audio(self, payload: Any) -> bytes | None:
        """The bytes of an audio payload as recorded: inline or beside; None when elided."""
        if isinstance(payload, str):
            return decode_audio(payload)
        if isinstance(payload, dict) and "file" in payload:
            with (self.path.parent / Path(str(payload["file"])).name).open("rb") as file:
                file.seek(int(payload["offset"]))
                return file.read(int(payload["bytes"]))
        return None

    def _part_records(self, index: int, path: Path) -> Iterator[dict[str, Any]]:
        with path.open("rb") as file:
            header = Header.from_dict(_json_or_none(file.readline()), where=str(path))
            if header.part != index or header.side != self.header.side:
                raise RecordingError(
                    f"{path}: header says part {header.part} of a {header.side} recording, "
                    f"expected part {index} of a {self.header.side} one (a part of another "
                    "recording was renamed into this one?)"
                )
            for number, line in enumerate(file, start=2):
                record = _json_or_none(line)
                if isinstance(record, dict) and record.get("kind") == "appends":
                    yield from expand_appends(record, f"{path}:{number}")
                elif isinstance(record, dict) and "kind" in record:
                    yield record
                elif not line.endswith(b"\n"):
                    self.truncated = True  # the writer stopped in the middle of this line
                elif line.strip():
                    raise RecordingError(
                        f"{path}:{number}: not a recording record (a JSON object with 'kind')"
                    )


def read_records(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every record of the recording at ``path`` (header checked first)."""
    return RecordingReader(path).records()


def part_path(path: Path, part: int) -> Path:
    """The file of part ``part`` (>= 1) of the recording whose first part is ``path``."""
    return path.with_name(f"{path.name.removesuffix('.jsonl')}.{part}.jsonl")


def first_part(path: Path) -> Path:
    """``NAME.jsonl`` for any of its parts (``NAME.3.jsonl``), else ``path`` itself."""
    match = _PART_NAME.match(path.name)
    if match is not None:
        candidate = path.with_name(match["base"] + ".jsonl")
        if candidate.is_file():
            return candidate
    return path


def _parts(path: Path) -> list[Path]:
    parts = [path]
    while (next_path := part_path(path, len(parts))).is_file():
        parts.append(next_path)
    return parts


def _json_or_none(line: bytes) -> Any:
    try:
        return parse_untrusted(line)
    except ValueError:
        return None
