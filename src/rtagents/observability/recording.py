"""Session recordings: the writer that appends JSON-lines records (the reader is re-exported).

One session per recording, format v3 (docs/recording.md). The writer is on
the hot path of every event, so an event of a type it is told is written as
it is, not parsed again, and audio is elided by slicing around it. Lines go
out in batches (``recording_parts.py`` rotates the files), flushed at
lifecycle, failure and close records, and when the file closes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii as json_text  # json.dumps' own, for a str
from pathlib import Path
from typing import Any

from .recording_bodies import EventBodies, compact_elided, encoded_elided
from .recording_format import (
    AUDIO_FIELDS,
    DEFAULT_ROTATE_BYTES,
    AudioMode,
    Direction,
    Header,
    RecordingError,
    Side,
    redact_url,
)
from .recording_parts import RecordingParts
from .recording_reader import RecordingReader, first_part, part_path, read_records
from .recording_records import OtherRecords
from .recording_runs import APPEND, RUN_APPENDS, AppendRun, LinePrefix, json_or_null

log = logging.getLogger("rtagents.recording")

__all__ = [
    "AudioMode",
    "Header",
    "RecordingError",
    "RecordingReader",
    "RecordingWriter",
    "first_part",
    "part_path",
    "read_records",
]

_BATCH_CHARS = 1 << 16  # lines are written in batches of about this many characters
# An event line: t, wall, the prefix up to "seq":, seq, transport, event. %-formatting,
# not an f-string: a third cheaper for the two floats, and this runs for every event.
_EVENT_LINE = '{"t":%.6f,"wall":%.6f%s%s,"transport":%s,"event":%s}\n'
_MARK_LINE = (
    '{"t":%.6f,"wall":%.6f,"kind":"mark","session_id":%s,"name":%s,"response_id":%s,'
    '"item_id":%s,"transport":%s}\n'
)


class RecordingWriter(OtherRecords):
    """Writes one session's records to ``path`` (``NAME.jsonl``), rotating at ``rotate_bytes``.

    Parts after the first are ``NAME.1.jsonl``, ``NAME.2.jsonl``..., each opening
    with its own header. ``audio`` chooses what happens to audio payloads:
    ``elided`` (length and CRC-32C, the default), ``inline`` (kept) or ``beside``
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
        self._clock = clock
        self._origin = clock()
        header = Header(
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
        self._prefix = self._prefixes()
        self._started = header.started_at  # wall = started_at + t (one clock read a line)
        self._line_prefix = LinePrefix(self._started, self._session_json, self._transport_json)
        self._bodies = EventBodies(audio, self.path.with_suffix(".audio"))
        self._files = RecordingParts(self.path, rotate_bytes, header)  # holds the header
        self._pending: list[str] = []  # lines not written yet (written in batches)
        self._pending_chars = 0
        self._closed = False  # the file opens with the first record (or at close)
        self._runs = audio == "elided"  # appends go in runs (recording_runs.py)
        self._run: AppendRun | None = None

    # --- what is recorded ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def rotate_bytes(self) -> int:
        """Where a part ends: the next line that would pass it starts a new part."""
        return self._files.rotate_bytes

    @rotate_bytes.setter
    def rotate_bytes(self, value: int) -> None:
        self._files.rotate_bytes = value

    @property
    def parts(self) -> list[Path]:
        """The files written so far: ``NAME.jsonl``, then ``NAME.1.jsonl``..."""
        return self._files.paths

    @property
    def session_id(self) -> str | None:
        return self._files.header.session_id

    @session_id.setter
    def session_id(self, value: str | None) -> None:
        """A client learns its session id from ``session.created``: later records carry it."""
        self._end_run()
        self._files.header = dataclasses.replace(self._files.header, session_id=value)
        self._session_json = json.dumps(value)
        self._prefix = self._prefixes()
        self._line_prefix = LinePrefix(self._started, self._session_json, self._transport_json)

    def event(
        self,
        direction: Direction,
        wire: str | bytes | Mapping[str, Any],
        *,
        event_type: str | None = None,
        audio: str | None = None,
        seq: int | None = None,
        transport: str | None = None,
    ) -> None:
        """One frame as on the wire.

        Pass ``event_type`` only when ``wire`` is known to be one JSON object of
        that type: it is then written as it is, not parsed again. For an audio
        event, pass its base64 payload as ``audio`` too: it is then elided or
        moved by a string replacement instead of a parse.
        """
        if self._closed:
            return
        if event_type == APPEND and self._runs and isinstance(wire, str):
            if audio is not None and transport is None:
                self.append(direction, wire, audio, seq=seq)
                return
        if seq is None and not isinstance(wire, bytes):  # text frames are numbered
            counts = self._seq
            seq = counts[direction] = counts[direction] + 1
        body = None
        if audio is not None and event_type is not None and self.audio == "elided":
            body = compact_elided(wire, event_type, audio)  # audio deltas: a voice call's reply
        if body is None:
            body = self._bodies.body(wire, event_type, audio)
        self._add_line(direction, seq, transport, body)

    def sent(self, wire: str, event_type: str, audio: str | None = None) -> None:
        """An event this side encoded and sent: compact JSON of type ``event_type``, and
        for an audio event its base64 payload. :meth:`event` with fewer steps, for a
        server's every emit (a reply's audio deltas are 10 KB each, dozens a reply).
        """
        if self._closed:
            return
        counts = self._seq
        seq = counts["sent"] = counts["sent"] + 1
        body: str | None = None
        if audio is None:
            if event_type not in AUDIO_FIELDS and "\n" not in wire and "\r" not in wire:
                body = wire  # as it went out: most events
        elif self.audio == "elided":
            body = encoded_elided(wire, event_type, audio)
        self._add_line("sent", seq, None, body or self._bodies.body(wire, event_type, audio))

    def _add_line(self, direction: str, seq: int | None, transport: str | None, body: str) -> None:
        """The event line of ``body``, stamped now, after the appends run in progress."""
        t = self._clock() - self._origin
        if self._run is not None:
            self._end_run()  # whatever comes next follows the appends before it
        line = self._event_line(direction, t, seq, transport, body)
        self._pending.append(line)
        self._pending_chars += len(line)
        if self._pending_chars >= _BATCH_CHARS:
            self._drain()

    def append(
        self, direction: Direction, wire: str, audio: str, *, seq: int | None = None
    ) -> None:
        """An ``input_audio_buffer.append`` text frame and its base64 ``audio`` payload.

        The hot path of a recorded voice call (fifty a second): in ``elided`` mode
        the frame joins the run in progress and is checked and elided with the
        rest of the run when the run ends (:class:`AppendRun`).
        """
        if self._closed:
            return
        if seq is None:
            counts = self._seq
            seq = counts[direction] = counts[direction] + 1
        if not self._runs:
            self.event(direction, wire, event_type=APPEND, audio=audio, seq=seq)
            return
        run = self._run
        if run is not None:
            # The run takes the next append of its direction while it has room (tested
            # here, not by a method: this is the writer's most frequent call).
            count = len(run.times)
            if direction != run.direction or seq != run.seq + count or count >= RUN_APPENDS:
                self._end_run()
                run = None
        if run is None:
            run = self._run = AppendRun(direction, seq)
        run.add(self._clock() - self._origin, wire, audio)

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
        learnt after the fact: its record then comes later than its ``t`` says).

        The record of :meth:`OtherRecords._record`, formatted directly: a voice turn
        writes several, and building a dict for ``json.dumps`` was most of their cost.
        """
        if self._closed:
            return
        self._end_run()
        t = (self._clock() if at is None else at) - self._origin
        self._write(
            _MARK_LINE
            % (
                t,
                self._started + t,
                self._session_json,
                json_text(name),
                json_or_null(response_id),
                json_or_null(item_id),
                json_text(transport) if transport else self._transport_json,
            )
        )

    def close(self) -> None:
        """Flush and close the file (idempotent); later records are dropped.

        A recording closed before any record still gets its header line.
        """
        if not self._closed:
            self._drain()
        self._closed = True
        self._files.close()
        self._bodies.close()

    # --- lines and parts ---------------------------------------------------------------

    def _prefixes(self) -> dict[str, str]:
        """What an event line has between ``wall`` and ``seq``, per direction."""
        session = self._session_json
        return {
            direction: f',"kind":"event","session_id":{session},"dir":"{direction}","seq":'
            for direction in ("sent", "received")
        }

    def _record(self, fields: dict[str, Any], *, at: float | None = None) -> None:
        if self._closed:
            return
        self._end_run()
        t = (self._clock() if at is None else at) - self._origin
        line = {
            "t": round(t, 6),
            "wall": round(self._started + t, 6),
            "kind": fields.pop("kind"),
            "session_id": self._files.header.session_id,
            **fields,
        }
        self._write(json.dumps(line, separators=(",", ":")) + "\n")

    def _write(self, line: str) -> None:
        self._pending.append(line)
        self._pending_chars += len(line)
        if self._pending_chars >= _BATCH_CHARS:
            self._drain()

    def _end_run(self) -> None:
        """The appends run in progress becomes lines of the batch."""
        run, self._run = self._run, None
        if run is not None and run.times:
            lines = run.lines(self._line_prefix, self._single_append)
            self._pending += lines
            self._pending_chars += sum(map(len, lines))

    def _single_append(self, direction: str, t: float, seq: int, wire: str, audio: str) -> str:
        """The ``event`` line of an append a run cannot hold (its frame spans lines, or its
        payload is escaped)."""
        return self._event_line(direction, t, seq, None, self._bodies.body(wire, APPEND, audio))

    def _event_line(
        self, direction: str, t: float, seq: int | None, transport: str | None, body: str
    ) -> str:
        return _EVENT_LINE % (
            t,
            self._started + t,
            self._prefix[direction],
            "null" if seq is None else seq,
            self._transport_json if transport is None else json.dumps(transport),
            body,
        )

    def _drain(self) -> None:
        """Write the pending lines. A write that fails (disk full, file gone) ends the
        recording with one warning: recording never breaks the session it records."""
        self._end_run()
        lines, self._pending, self._pending_chars = self._pending, [], 0
        try:
            self._files.write(lines)
        except OSError as exc:
            log.warning("recording to %s stopped: %s", self.path, exc)
            self._closed = True

    def _flush(self) -> None:
        if not self._closed:
            self._drain()


@functools.cache
def _version() -> str:
    """The installed rtagents version, looked up once a process: reading package metadata
    costs more than a whole recorded turn."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rtagents")
    except PackageNotFoundError:
        return "0.0.0+unknown"
