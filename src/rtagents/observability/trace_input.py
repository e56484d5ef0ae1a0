"""The records of a recording (format v1, every rotated part) as trace reads them.

The header check and the part names are the recording module's own
(:class:`~.recording_format.Header`, :func:`~.recording.first_part`); the
lines are read here because a trace is more forgiving than
:class:`~.recording.RecordingReader` and more precise: a line that is not
JSON, a record with no ``kind`` or a ``t`` that is not a number is set aside,
counted and quoted by ``FILE:LINE``, and the rest is analysed, so a
half-written file (a crashed process) still gets its trace and every finding
says which line to open. Only a file that is not a recording at all (missing,
or its first line is no v1 header) is refused with :class:`RecordingError`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..protocol.json_depth import parse_untrusted
from .recording import first_part, part_path
from .recording_format import Header, RecordingError

UNREADABLE_KEPT = 20
"""Unreadable lines quoted in the report; the rest are only counted."""


@dataclass(frozen=True, slots=True)
class Record:
    """One record line: where it is, when, its kind and its fields."""

    where: str  # "FILE:LINE", for a person to open
    t: float  # seconds since the first part's start
    kind: str
    data: Mapping[str, Any]

    @property
    def event(self) -> Mapping[str, Any] | None:
        """The wire event of an ``event`` record (None if unparseable or another kind)."""
        event = self.data.get("event")
        return event if isinstance(event, Mapping) else None

    @property
    def event_type(self) -> str | None:
        event = self.event
        kind = event.get("type") if event is not None else None
        return kind if isinstance(kind, str) else None


@dataclass(slots=True)
class Recording:
    """A recording's first header and its parts; :meth:`records` reads them lazily.

    One pass over the records is all a trace needs, so an hour-long recording
    is never held in memory whole.
    """

    header: Mapping[str, Any]
    parts: list[Path]
    unreadable: list[str] = field(default_factory=list)
    unreadable_count: int = 0
    records_read: int = 0

    @property
    def side(self) -> str | None:
        side = self.header.get("side")
        return side if side in ("client", "server") else None

    def set_aside(self, where: str, why: str) -> None:
        self.unreadable_count += 1
        if len(self.unreadable) < UNREADABLE_KEPT:
            self.unreadable.append(f"{where}: {why}")

    def records(self) -> Iterator[Record]:
        """Every readable record of every part, in order, ``t`` on the first part's clock."""
        origin = _number(self.header.get("started_at"))
        for part in self.parts:
            lines = _lines(part)
            try:
                header = _header(part, next(lines, None))
            except RecordingError as exc:
                lines.close()
                self.set_aside(part.name, str(exc))  # a rotated part that went wrong
                continue
            started = _number(header.get("started_at"))
            shift = started - origin if started is not None and origin is not None else 0.0
            for record in _read_records(self, part, lines, shift):
                self.records_read += 1
                yield record


def read_recording(path: str | Path) -> Recording:
    """Open ``path`` and find the parts rotated after it (``NAME.1.jsonl``, ...).

    Raises :class:`RecordingError` if ``path`` is missing or does not start with
    a v1 header; the records are read when :meth:`Recording.records` is iterated.
    """
    first = first_part(Path(path))
    if not first.is_file():
        raise RecordingError(f"{first} does not exist or is not a file")
    with first.open("r", encoding="utf-8", errors="replace") as lines:
        line = next((line for line in lines if line.strip()), None)
    header = _header(first, (1, line) if line is not None else None)
    return Recording(header=header, parts=list(_parts(first)))


def _parts(first: Path) -> Iterator[Path]:
    """``first`` then its rotated siblings in order, while they exist."""
    yield first
    index = 1
    while (sibling := part_path(first, index)).is_file():
        yield sibling
        index += 1


def _lines(part: Path) -> Generator[tuple[int, str]]:
    with part.open("r", encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield number, line


def _header(part: Path, first: tuple[int, str] | None) -> Mapping[str, Any]:
    if first is None:
        raise RecordingError(f"{part} is empty: a recording starts with its header line")
    try:
        data = parse_untrusted(first[1])
    except ValueError:
        data = None
    where = f"{part}:{first[0]}"
    try:
        return Header.from_dict(data, where=where).to_dict()
    except RecordingError:
        raise
    except (TypeError, ValueError) as exc:  # a header field of the wrong type
        raise RecordingError(f"{where}: the header line is damaged: {exc}") from exc


def _read_records(
    recording: Recording, part: Path, lines: Iterator[tuple[int, str]], shift: float
) -> Iterator[Record]:
    for number, line in lines:
        where = f"{part.name}:{number}"
        try:
            data = parse_untrusted(line)
        except ValueError:
            recording.set_aside(where, "not JSON (a line cut short by a crash?)")
            continue
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            recording.set_aside(where, 'not a record (an object with a string "kind")')
            continue
        t = _number(data.get("t"))
        if t is None:
            recording.set_aside(where, '"t" is not a number')
            continue
        yield Record(where=where, t=t + shift, kind=data["kind"], data=data)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
