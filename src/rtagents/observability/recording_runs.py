"""Runs of audio appends: up to a second of a voice call's appends written as one line.

A caller streams ``input_audio_buffer.append`` 50 times a second. Written
one line each, they were most of a recording's cost (``bench/recording.py``).
A run keeps every append (its time, number, checksum, decoded length, and the
frame around its payload, exactly as on the wire) in columns of one
``appends`` record; :func:`expand_appends` gives the reader back one ``event``
record per append, identical to what a line of its own would have held.
Only compact frames in ``elided`` mode form runs; anything else ends the run
in progress and is written as before, so records stay in order.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any

from .recording_format import RecordingError

APPEND = "input_audio_buffer.append"
RUN_APPENDS = 50  # a second of 20 ms appends a line: a run's line stays a few KiB
_KEY = '"audio":"'


class AppendRun:
    """The appends of one direction written since the last other record."""

    __slots__ = ("direction", "seq", "times", "heads", "tails", "sizes", "crcs")

    def __init__(self, direction: str, seq: int) -> None:
        self.direction = direction
        self.seq = seq  # the first append's number; the others follow it one by one
        self.times: list[float] = []
        self.heads: list[str] = []  # the frame up to the payload's opening quote
        self.tails: list[str] = []  # the frame after the payload's closing quote
        self.sizes: list[int] = []
        self.crcs: list[int] = []

    def takes(self, direction: str, seq: int) -> bool:
        """The next append of this run: same direction, the next number, room left."""
        count = len(self.times)
        return direction == self.direction and seq == self.seq + count and count < RUN_APPENDS

    def add(self, t: float, wire: str, audio: str) -> bool:
        """Add one compact append frame; False (nothing added) if it is not one."""
        start = wire.find(_KEY)
        size = len(audio)
        if start < 0 or size % 4 or not audio.isascii():
            return False
        start += len(_KEY)
        end = start + size
        if wire[end : end + 1] != '"' or not wire.startswith(audio, start):
            return False
        if "\n" in wire or "\r" in wire:
            return False
        self.times.append(t)
        self.heads.append(wire[: start - 1])
        self.tails.append(wire[end + 1 :])
        self.sizes.append(size // 4 * 3 - (audio[-2:] == "==") - (audio[-1:] == "="))
        self.crcs.append(zlib.crc32(audio.encode()))
        return True

    def line(self, started: float, session_json: str, transport_json: str) -> str:
        """The run's ``appends`` record (a repeated head or tail is ``null``: as before)."""
        t0 = self.times[0]
        fields = {
            "n": len(self.times),
            "dt_us": [round((t - t0) * 1e6) for t in self.times],
            "heads": _unrepeated(self.heads),
            "tails": _unrepeated(self.tails),
            "bytes": self.sizes,
            "crc32": [f"{crc:08x}" for crc in self.crcs],
        }
        return (
            f'{{"t":{t0:.6f},"wall":{started + t0:.6f},"kind":"appends",'
            f'"session_id":{session_json},"dir":"{self.direction}","seq":{self.seq},'
            f'"transport":{transport_json},{json.dumps(fields, separators=(",", ":"))[1:]}\n'
        )


def expand_appends(record: dict[str, Any], where: str) -> Iterator[dict[str, Any]]:
    """The ``event`` records of an ``appends`` record, one per append, in order."""
    try:
        count, offsets = int(record["n"]), record["dt_us"]
        columns = [record[name] for name in ("heads", "tails", "bytes", "crc32")]
        if any(len(column) != count for column in (offsets, *columns)):
            raise ValueError("its columns differ in length from n")
        head = tail = ""
        for index in range(count):
            head = columns[0][index] if columns[0][index] is not None else head
            tail = columns[1][index] if columns[1][index] is not None else tail
            elided = (
                f'{{"elided":true,"bytes":{int(columns[2][index])},"crc32":"{columns[3][index]}"}}'
            )
            dt = offsets[index] / 1e6
            yield {
                "t": round(record["t"] + dt, 6),
                "wall": round(record["wall"] + dt, 6),
                "kind": "event",
                "session_id": record["session_id"],
                "dir": record["dir"],
                "seq": record["seq"] + index,
                "transport": record["transport"],
                "event": json.loads(f"{head}{elided}{tail}"),
            }
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise RecordingError(f"{where}: a broken appends record ({exc})") from exc


def _unrepeated(values: list[str]) -> list[str | None]:
    """``values`` with each value equal to the one before it replaced by None."""
    out: list[str | None] = []
    previous = None
    for value in values:
        out.append(None if value == previous else value)
        previous = value
    return out
