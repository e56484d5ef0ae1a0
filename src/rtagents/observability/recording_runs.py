"""Runs of audio appends: up to a second of a voice call's appends written as one line.

A caller streams ``input_audio_buffer.append`` 50 times a second. Written
one line each, they were most of a recording's cost (``bench/recording.py``).
A run keeps every append (its time, number, checksum, decoded length, and the
frame around its payload, exactly as on the wire) in columns of one
``appends`` record; :func:`expand_appends` gives the reader back one ``event``
record per append, identical to what a line of its own would have held.
Only ``elided`` mode forms runs. An append whose frame spans lines (JSON
whitespace may be a newline) or whose payload is escaped gets its own
``event`` line in its place, and any other record ends the run in progress,
so records stay in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import repeat
from json.encoder import encode_basestring_ascii as json_text  # json.dumps' own, for a str
from typing import Any

from google_crc32c import value as crc32c

from ..protocol.audio import b64_decoded_length
from ..protocol.json_depth import parse_untrusted
from .recording_bodies import payload_span
from .recording_format import CHECKSUM, RecordingError

APPEND = "input_audio_buffer.append"
RUN_APPENDS = 50  # a second of 20 ms appends a line: a run's line stays a few KiB
# An append that cannot go in a run: (direction, t, seq, wire, audio) -> its ``event`` line.
Single = Callable[[str, float, int, str, str], str]


class AppendRun:
    """The appends of one direction written since the last other record.

    Adding an append stores its time, frame and payload, nothing else: the
    checks and the columns are made once for the whole run, in :meth:`lines`,
    so a voice call's fifty appends a second each cost three list appends.
    The next append of a run has the same direction and the next number, while
    the run holds fewer than :data:`RUN_APPENDS` (``RecordingWriter.append``
    tests this inline).
    """

    __slots__ = ("direction", "seq", "times", "frames", "payloads")

    def __init__(self, direction: str, seq: int) -> None:
        self.direction = direction
        self.seq = seq  # the first append's number; the others follow it one by one
        self.times: list[float] = []
        self.frames: list[str] = []
        self.payloads: list[str] = []

    def add(self, t: float, wire: str, audio: str) -> None:
        self.times.append(t)
        self.frames.append(wire)
        self.payloads.append(audio)

    def lines(self, prefix: LinePrefix, single: Single) -> list[str]:
        """The run's records in order: ``appends`` lines for its one-line frames, and
        ``single(direction, t, seq, wire, audio)`` (an ``event`` line) for any other frame."""
        uniform = _uniform(self, prefix.around.get(self.direction))
        if uniform is not None:
            prefix.around[self.direction] = (uniform._open, uniform._close)
            return [uniform.line(self.direction, prefix)]
        out: list[str] = []
        columns = _Columns(self.seq)
        for index, (t, wire, audio) in enumerate(
            zip(self.times, self.frames, self.payloads, strict=True)
        ):
            if columns.add(t, wire, audio):
                continue
            if columns.times:
                out.append(columns.line(self.direction, prefix))
            out.append(single(self.direction, t, self.seq + index, wire, audio))
            columns = _Columns(self.seq + index + 1)
        if columns.times:
            out.append(columns.line(self.direction, prefix))
        return out


class LinePrefix:
    """What every line of one recording repeats: its wall-clock origin, session, transport,
    and the frame around the payloads of its last uniform run, per direction (a caller's
    appends differ only in their payloads, so the next run checks against it at once)."""

    __slots__ = ("started", "session_json", "transport_json", "around")

    def __init__(self, started: float, session_json: str, transport_json: str) -> None:
        self.started = started
        self.session_json = session_json
        self.transport_json = transport_json
        self.around: dict[str, tuple[str, str]] = {}  # direction -> (opening, closing)


class _Columns:
    """The columns of one ``appends`` record: consecutive one-line appends."""

    __slots__ = ("seq", "times", "heads", "tails", "sizes", "checksums", "_open", "_close")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.times: list[float] = []
        self.heads: list[str | None] = []  # the frame up to the payload's opening quote
        self.tails: list[str | None] = []  # the frame after its closing quote (None: as before)
        self.sizes: list[int] = []
        self.checksums: list[int] = []  # CRC-32C, as numbers: formatting them costs more
        self._open = self._close = ""  # the last head and tail, with the payload's quotes

    def add(self, t: float, wire: str, audio: str) -> bool:
        """Add one append frame on one line; False (nothing added) if it is not one."""
        size = len(audio)
        if size % 4 or not audio.isascii():
            return False
        opening, closing = self._open, self._close
        if (
            opening
            and len(wire) == len(opening) + size + len(closing)
            and wire.startswith(opening)
            and wire.endswith(closing)
            and wire.startswith(audio, len(opening))
        ):
            head = tail = None  # the frame around the payload is the last one's: most frames
        else:
            # Any JSON spacing: Python's json.dumps (the openai package's dict events)
            # writes "audio": "..." with a space, and a head holding it is as exact.
            span = payload_span(wire, APPEND, audio)
            if span is None:
                return False
            head, tail = wire[: span[0] - 1], wire[span[1] + 1 :]
            if "\n" in head or "\r" in head or "\n" in tail or "\r" in tail:
                return False  # a raw newline (JSON whitespace): the general path
            self._open, self._close = f'{head}"', f'"{tail}'
        self.times.append(t)
        self.heads.append(head)
        self.tails.append(tail)
        self.sizes.append(b64_decoded_length(audio))
        self.checksums.append(crc32c(audio.encode()))
        return True

    def line(self, direction: str, prefix: LinePrefix) -> str:
        """The ``appends`` record of these columns, formatted here rather than by
        ``json.dumps`` (a voice call ends a few runs a second, most of one or two appends:
        the encoder's set-up was most of such a line's cost)."""
        t0 = self.times[0]
        return _APPENDS_LINE % (
            t0,
            prefix.started + t0,
            prefix.session_json,
            direction,
            self.seq,
            prefix.transport_json,
            len(self.times),
            ",".join([str(round((t - t0) * 1e6)) for t in self.times]),
            ",".join(map(json_or_null, self.heads)),
            ",".join(map(json_or_null, self.tails)),
            ",".join(map(str, self.sizes)),
            ",".join(map(str, self.checksums)),
        )


_APPENDS_LINE = (
    '{"t":%.6f,"wall":%.6f,"kind":"appends","session_id":%s,"dir":"%s","seq":%d,'
    '"transport":%s,"n":%d,"dt_us":[%s],"heads":[%s],"tails":[%s],"bytes":[%s],'
    f'"{CHECKSUM}":[%s]}}\n'
)


def json_or_null(text: str | None) -> str:
    """``text`` as JSON (as ``json.dumps`` writes it), ``null`` for None."""
    return "null" if text is None else json_text(text)


def _uniform(run: AppendRun, around: tuple[str, str] | None = None) -> _Columns | None:
    """The columns of a run whose frames all repeat one head and tail around their
    payloads (a client's appends), checked and built a column at a time; None for any
    other run. ``around``: the opening and closing of the last uniform run, tried first
    (a caller's frames keep them from run to run, and finding them is a search).

    Each check and column is one ``map`` over the run, so the per-append cost is
    that of the C calls: this is the writer's hottest path.
    """
    frames, payloads = run.frames, run.payloads
    if around is None or not _all_fit(frames, payloads, *around):
        first = _Columns(run.seq)  # the first frame says where its payload lies
        if not first.add(run.times[0], frames[0], payloads[0]):
            return None
        around = (first._open, first._close)
        if not _all_fit(frames, payloads, *around):
            return None
    opening, closing = around
    columns = _Columns(run.seq)
    columns._open, columns._close = opening, closing
    columns.times = run.times  # heads and tails stay one long: the rest repeat them
    columns.heads, columns.tails = [opening[:-1]], [closing[1:]]
    size = len(payloads[0])
    if not any(map(str.endswith, payloads, repeat("="))) and all(
        map(size.__eq__, map(len, payloads))
    ):
        columns.sizes = [b64_decoded_length(payloads[0])]  # one length, repeated like the heads
    else:
        columns.sizes = list(map(b64_decoded_length, payloads))
    columns.checksums = list(map(crc32c, map(str.encode, payloads)))
    return columns


def _all_fit(frames: list[str], payloads: list[str], opening: str, closing: str) -> bool:
    """Whether every frame is ``opening``, its payload (canonical base64: ASCII, a multiple
    of 4 long), then ``closing``, and nothing else."""
    sizes = list(map(len, payloads))
    extra = len(opening) + len(closing)
    return (
        not any(map((3).__and__, sizes))
        and list(map(len, frames)) == list(map(extra.__add__, sizes))
        and all(map(str.isascii, payloads))
        and all(map(str.startswith, frames, repeat(opening)))
        and all(map(str.endswith, frames, repeat(closing)))
        and all(map(str.startswith, frames, payloads, repeat(len(opening))))
    )


def expand_appends(record: dict[str, Any], where: str) -> Iterator[dict[str, Any]]:
    """The ``event`` records of an ``appends`` record, one per append, in order."""
    try:
        count, offsets = int(record["n"]), record["dt_us"]
        key = CHECKSUM if CHECKSUM in record else "crc32"  # version 2 wrote CRC-32
        heads, tails, sizes = (_padded(record[name], count) for name in ("heads", "tails", "bytes"))
        checksums = record[key]
        if any(len(column) != count for column in (offsets, checksums)):
            raise ValueError("its columns differ in length from n")
        head = tail = ""
        for index in range(count):
            head = heads[index] or head  # None (or nothing): as before
            tail = tails[index] or tail
            checksum = checksums[index]  # a number since version 3, hex text before
            digits = checksum if isinstance(checksum, str) else f"{int(checksum):08x}"
            elided = f'{{"elided":true,"bytes":{int(sizes[index])},"{key}":"{digits}"}}'
            dt = offsets[index] / 1e6
            yield {
                "t": round(record["t"] + dt, 6),
                "wall": round(record["wall"] + dt, 6),
                "kind": "event",
                "session_id": record["session_id"],
                "dir": record["dir"],
                "seq": record["seq"] + index,
                "transport": record["transport"],
                "event": parse_untrusted(f"{head}{elided}{tail}"),
            }
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise RecordingError(f"{where}: a broken appends record ({exc})") from exc


def _padded(column: list[Any], count: int) -> list[Any]:
    """A ``heads``, ``tails`` or ``bytes`` column to ``n`` values: missing ones repeat the
    last (version 3 writes one value where all are the same)."""
    if not isinstance(column, list):
        raise ValueError(f"a heads, tails or bytes column is a list, not {type(column).__name__}")
    if not 1 <= len(column) <= count:
        raise ValueError(f"a heads, tails or bytes column holds 1 to n values, not {len(column)}")
    return column + column[-1:] * (count - len(column))
