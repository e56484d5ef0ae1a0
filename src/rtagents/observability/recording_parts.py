"""The files of one recording: ``NAME.jsonl``, then ``NAME.1.jsonl``... as it rotates.

Each part opens with its own header line (its ``part`` number set), and a
part is cut only between lines, never before its first record: the reader
(``recording_reader.py``) finds the parts from any one of them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import IO

from .recording_format import Header
from .recording_reader import part_path


class RecordingParts:
    """Writes batches of lines to ``path`` and its next parts, at most ``rotate_bytes`` each
    (a part also holds at least one record, however long)."""

    def __init__(self, path: Path, rotate_bytes: int, header: Header) -> None:
        self.path = path
        self.rotate_bytes = rotate_bytes
        self.paths: list[Path] = []
        # What each part's header says but its number; the writer replaces it when the
        # session id becomes known. A value, not a callback into the writer: a callback
        # made writer and parts a reference cycle, freed only by a full collection.
        self.header = header
        self._file: IO[bytes] | None = None
        self._written = self._header_bytes = 0

    def write(self, lines: list[str]) -> None:
        """One write, or line by line where a part ends (lone surrogates become '?').
        Raises ``OSError`` as the file system does."""
        if self._file is None:
            self._open(0)
        assert self._file is not None
        data = "".join(lines).encode("utf-8", "replace")
        if self._written + len(data) <= self.rotate_bytes:
            self._file.write(data)
            self._written += len(data)
            return
        for line in lines:
            chunk = line.encode("utf-8", "replace")
            if (
                self._written + len(chunk) > self.rotate_bytes
                and self._written > self._header_bytes
            ):
                self._open(len(self.paths))
                assert self._file is not None
            self._file.write(chunk)
            self._written += len(chunk)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self, part: int) -> None:
        self.close()
        # Made before opening: nothing is left open if it fails.
        header = dataclasses.replace(self.header, part=part).to_dict()
        data = (json.dumps(header, separators=(",", ":")) + "\n").encode()
        path = self.path if part == 0 else part_path(self.path, part)
        self.paths.append(path)
        self._file = open(path, "wb", buffering=0)  # noqa: SIM115 (closed in close; batched)
        self._file.write(data)
        self._header_bytes = self._written = len(data)
