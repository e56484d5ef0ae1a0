"""Session recordings: a writer that appends JSON-lines records, a reader that iterates them.

One session per recording, format v1 (``recording_format.py``,
docs/recording.md). The writer is on the hot path of every event when
recording is on, so an event it is told the type of (the caller encoded or
decoded it) is spliced into its line without being parsed again; only audio
events are parsed, to elide or move their payload. Lines are buffered and
flushed at lifecycle, failure and close records, and when the file closes.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from ..protocol.client_text import one_line
from ..protocol.errors import RealtimeError
from .recording_format import (
    AUDIO_FIELDS,
    DEFAULT_ROTATE_BYTES,
    RAW_CHARS,
    AudioMode,
    CloseBy,
    Direction,
    Header,
    RecordingError,
    Side,
    decode_audio,
    elide,
    redact_text,
    redact_url,
)

__all__ = [
    "AudioMode",
    "Header",
    "RecordingError",
    "RecordingReader",
    "RecordingWriter",
    "read_records",
]

_BUFFER_BYTES = 1 << 16
_PART_NAME = re.compile(r"^(?P<base>.+)\.(?P<part>\d+)\.jsonl$")


class RecordingWriter:
    """Writes one session's records to ``path`` (``NAME.jsonl``), rotating at ``rotate_bytes``.

    Parts after the first are ``NAME.1.jsonl``, ``NAME.2.jsonl``..., each opening
    with its own header. ``audio`` chooses what happens to audio payloads:
    ``elided`` (length and sha256, the default), ``inline`` (kept) or ``beside``
    (raw bytes appended to ``NAME.audio``). Once closed, records are dropped.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        side: Side,
        transport: str = "websocket",
        session_id: str | None = None,
        url: str | None = None,
        model: str | None = None,
        audio: AudioMode = "elided",
        rotate_bytes: int = DEFAULT_ROTATE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if audio not in ("elided", "inline", "beside"):
            raise ValueError(f"audio must be 'elided', 'inline' or 'beside', not {audio!r}")
        if rotate_bytes < 4096:
            raise ValueError(f"rotate_bytes must be at least 4096, not {rotate_bytes}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.audio: AudioMode = audio
        self.rotate_bytes = rotate_bytes
        self.parts: list[Path] = []
        self._clock, self._wall = clock, wall_clock
        self._origin = clock()
        self._header = Header(
            side=side,
            transport=transport,
            session_id=session_id,
            url=redact_url(url),
            model=model,
            started_at=wall_clock(),
            audio=audio,
            rtagents_version=_version(),
        )
        self._seq = {"sent": 0, "received": 0}
        self._transport_json = json.dumps(transport)
        self._session_json = json.dumps(session_id)
        self._audio_file: IO[bytes] | None = None
        self._file: IO[bytes] | None = None
        self._written = self._header_bytes = 0
        self._closed = False  # the file opens with the first record (or at close)

    # --- what is recorded ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def session_id(self) -> str | None:
        return self._header.session_id

    @session_id.setter
    def session_id(self, value: str | None) -> None:
        """A client learns its session id from ``session.created``: later records carry it."""
        self._header = _replace(self._header, session_id=value)
        self._session_json = json.dumps(value)

    def event(
        self,
        direction: Direction,
        wire: str | bytes | Mapping[str, Any],
        *,
        event_type: str | None = None,
        seq: int | None = None,
        transport: str | None = None,
    ) -> None:
        """One frame as on the wire. Pass ``event_type`` only when ``wire`` is known to be one
        JSON object of that type (then it is not parsed again unless it carries audio)."""
        if self._closed:
            return
        if seq is None and not isinstance(wire, bytes):  # text frames are numbered
            seq = self._next_seq(direction)
        body = self._event_body(wire, event_type)
        transport_json = self._transport_json if transport is None else json.dumps(transport)
        self._write(
            f'{{"t":{self._clock() - self._origin:.6f},"wall":{self._wall():.6f},'
            f'"kind":"event","session_id":{self._session_json},"dir":"{direction}",'
            f'"seq":{json.dumps(seq)},"transport":{transport_json},{body}}}\n'
        )

    def lifecycle(self, source: str, target: str, trigger: str) -> None:
        self._record({"kind": "lifecycle", "from": source, "to": target, "trigger": trigger})
        self._flush()

    def failure(
        self,
        category: str,
        message: str,
        *,
        code: str | None = None,
        origin: str | None = None,
        event_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """A classified failure (``connection``, ``protocol``, ``model`` or ``tool``)."""
        self._record(
            {
                "kind": "failure",
                "category": category,
                "code": code,
                "message": redact_text(message),
                "origin": origin,
                "event_id": event_id,
                "detail": dict(detail or {}),
            }
        )
        self._flush()

    def error(self, error: RealtimeError, **detail: Any) -> None:
        """A failure record for an error of the SDK's taxonomy (its category and origin)."""
        if error.param is not None:
            detail.setdefault("param", error.param)
        self.failure(
            str(error.category),
            error.message,
            code=error.code,
            origin=str(error.origin),
            event_id=error.event_id,
            detail=detail,
        )

    def mark(
        self,
        name: str,
        *,
        response_id: str | None = None,
        item_id: str | None = None,
        transport: str | None = None,
        at: float | None = None,
    ) -> None:
        """A latency mark: ``name`` happened now, or at ``at`` on the writer's clock (a mark
        learnt after the fact: its record then comes later than its ``t`` says)."""
        self._record(
            {
                "kind": "mark",
                "name": name,
                "response_id": response_id,
                "item_id": item_id,
                "transport": transport or self._header.transport,
            },
            at=at,
        )

    def connection_closed(self, code: int | None, reason: str | None, by: CloseBy) -> None:
        """The connection closed (a ``close`` record); the file stays open for what follows."""
        reason = redact_text(reason) if reason else reason
        self._record({"kind": "close", "code": code, "reason": reason, "by": by})
        self._flush()

    def close(self) -> None:
        """Flush and close the file (idempotent); later records are dropped.

        A recording closed before any record still gets its header line.
        """
        if not self._closed and self._file is None:
            self._open_part(0)
        self._closed = True
        for handle in (self._file, self._audio_file):
            if handle is not None:
                handle.close()
        self._file = self._audio_file = None

    # --- lines and parts ---------------------------------------------------------------

    def _event_body(self, wire: str | bytes | Mapping[str, Any], event_type: str | None) -> str:
        if isinstance(wire, Mapping):
            return '"event":' + json.dumps(self._with_audio(dict(wire)), separators=(",", ":"))
        text = wire if isinstance(wire, str) else wire.decode("utf-8", "replace")
        if event_type is not None and (event_type not in AUDIO_FIELDS or self.audio == "inline"):
            if "\n" in text or "\r" in text:  # whitespace of a valid JSON text: one line each
                text = text.replace("\n", " ").replace("\r", " ")
            return '"event":' + text
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raw = json.dumps(one_line(text, RAW_CHARS))
            return f'"event":null,"raw":{raw},"raw_bytes":{len(wire)}'
        return '"event":' + json.dumps(self._with_audio(parsed), separators=(",", ":"))

    def _with_audio(self, event: dict[str, Any]) -> dict[str, Any]:
        """``event`` with its audio payload in the writer's audio mode."""
        field = AUDIO_FIELDS.get(str(event.get("type")))
        payload = event.get(field) if field is not None else None
        if field is None or not isinstance(payload, str) or self.audio == "inline":
            return event
        if self.audio == "elided":
            event[field] = elide(payload)
        else:
            event[field] = self._beside(decode_audio(payload))
        return event

    def _beside(self, data: bytes) -> dict[str, Any]:
        if self._audio_file is None:
            self._audio_file = open(self._audio_path(), "ab")  # noqa: SIM115 (closed in close)
        offset = self._audio_file.tell()
        self._audio_file.write(data)
        return {"file": self._audio_path().name, "offset": offset, "bytes": len(data)}

    def _audio_path(self) -> Path:
        return self.path.with_suffix(".audio")

    def _next_seq(self, direction: Direction) -> int:
        self._seq[direction] += 1
        return self._seq[direction]

    def _record(self, fields: dict[str, Any], *, at: float | None = None) -> None:
        if self._closed:
            return
        line = {
            "t": round((self._clock() if at is None else at) - self._origin, 6),
            "wall": round(self._wall(), 6),
            "kind": fields.pop("kind"),
            "session_id": self._header.session_id,
            **fields,
        }
        self._write(json.dumps(line, separators=(",", ":")) + "\n")

    def _write(self, line: str) -> None:
        data = line.encode()
        if self._file is None:
            self._open_part(0)
        elif self._written + len(data) > self.rotate_bytes and self._written > self._header_bytes:
            self._open_part(len(self.parts))
        assert self._file is not None
        self._file.write(data)
        self._written += len(data)

    def _flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def _open_part(self, part: int) -> None:
        if self._file is not None:
            self._file.close()
        path = self.path if part == 0 else part_path(self.path, part)
        self.parts.append(path)
        self._file = open(path, "wb", buffering=_BUFFER_BYTES)  # noqa: SIM115 (closed in close)
        header = _replace(self._header, part=part)
        data = (json.dumps(header.to_dict(), separators=(",", ":")) + "\n").encode()
        self._file.write(data)
        self._header_bytes = self._written = len(data)


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
                if isinstance(record, dict) and "kind" in record:
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
        return json.loads(line)
    except ValueError:
        return None


def _replace(header: Header, **changes: Any) -> Header:
    fields = {name: getattr(header, name) for name in header.__dataclass_fields__}
    return Header(**{**fields, **changes})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rtagents")
    except PackageNotFoundError:
        return "0.0.0+unknown"
