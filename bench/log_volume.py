"""Log volume: the bytes ``rtagents serve`` writes to its log per 100,000 bad client events.

It starts the real server in a child process (``rtagents serve``, scripted
engine, loopback, a log format and level), sends bad events over WebSocket
sessions and reads the size of what the server wrote to stderr. The events
cycle through five kinds a fuzzer sends: an unknown ``type`` carrying a
newline and a forged log line, an unknown ``type`` of 1,000 characters, a
wrong-typed ``audio``, an unknown ``session`` field named by the client, and
bytes that are not JSON. Every event is answered with an ``error``, which is
awaited, so the server has logged every one when the session ends.

It prints one line per (level, sessions) run: records (lines), bytes, bytes
per event, the longest line, and whether a forged line reached the log.

Run: ``.venv/bin/python bench/log_volume.py`` (``--events``, ``--sessions``,
``--levels``); ``PYTHONPATH=<other checkout>/src`` measures other code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from websockets.asyncio.client import connect

API_KEY = "sk-log-volume"
FORGED = "05:00:00.000 CRITICAL sess_FAKE forged log line"
URL = re.compile(r"ws://127\.0\.0\.1:\d+/v1/realtime")


def bad_events(count: int, offset: int) -> Iterator[str]:
    """``count`` bad frames, the five kinds in turn, each with its own event_id."""
    for number in range(offset, offset + count):
        event_id = f"evt_{number}"
        kind = number % 5
        if kind == 0:
            yield json.dumps({"type": f"fuzz.{number}\n{FORGED}", "event_id": event_id})
        elif kind == 1:
            yield json.dumps({"type": f"t{number}".ljust(1000, "t"), "event_id": event_id})
        elif kind == 2:
            yield json.dumps(
                {"type": "input_audio_buffer.append", "audio": number, "event_id": event_id}
            )
        elif kind == 3:
            session = {"type": "realtime", f"field_{number}": 1}
            yield json.dumps({"type": "session.update", "session": session, "event_id": event_id})
        else:
            yield '{"type": "session.update", "event_id": "' + event_id + '", '


class Server:
    """``rtagents serve`` in a child process, its stderr (the log) in a file."""

    def __init__(self, log_format: str, level: str) -> None:
        self.log = Path(tempfile.mkstemp(prefix="log_volume_", suffix=".log")[1])
        args = [sys.executable, "-m", "rtagents.cli.main", "serve", "--port", "0"]
        args += ["--engine", "scripted", "--api-key", API_KEY, "--resume-grace", "0"]
        args += ["--log-format", log_format, "--log-level", level]
        self._stderr = self.log.open("wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stderr=self._stderr)
        self.ws_url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = URL.search(self.log.read_text(errors="replace"))
            if found:
                return found.group(0) + "?model=gpt-realtime"
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError("the server did not say where it listens")

    def stop(self) -> bytes:
        """Stop the server (SIGTERM, a clean shutdown) and return what it logged."""
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self._stderr.close()
        text = self.log.read_bytes()
        self.log.unlink()
        return text


async def one_session(ws_url: str, count: int, offset: int) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with connect(ws_url, additional_headers=headers, max_size=None) as ws:
        for _ in range(2):  # session.created, conversation.created
            await ws.recv()
        frames = list(bad_events(count, offset))

        async def send_all() -> None:
            for frame in frames:
                await ws.send(frame)

        sender = asyncio.create_task(send_all())
        errors = 0
        while errors < count:
            if json.loads(await ws.recv())["type"] == "error":
                errors += 1
        await sender


async def drive(ws_url: str, events: int, sessions: int) -> None:
    per_session = events // sessions
    for number in range(sessions):
        await one_session(ws_url, per_session, number * per_session)


def measure(log_format: str, level: str, events: int, sessions: int) -> dict[str, object]:
    server = Server(log_format, level)
    started_at = len(server.log.read_bytes())
    try:
        asyncio.run(drive(server.ws_url, events, sessions))
        time.sleep(1.0)  # the last session's end (its summary lines) is logged after its close
    finally:
        logged = server.stop()
    lines = logged[started_at:].split(b"\n")
    return {
        "format": log_format,
        "level": level,
        "events": events,
        "sessions": sessions,
        "records": sum(1 for line in lines if line),
        "bytes": len(logged) - started_at,
        "bytes_per_event": round((len(logged) - started_at) / events, 2),
        "longest_line": max((len(line) for line in lines), default=0),
        "forged_line": any(line.startswith(b"05:00:00.000") for line in lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--levels", nargs="+", default=["INFO", "DEBUG"])
    parser.add_argument("--format", default="console", choices=("console", "json"))
    args = parser.parse_args()
    print(f"# rtagents from {os.environ.get('PYTHONPATH') or 'the installed checkout'}")
    for level in args.levels:
        for sessions in args.sessions:
            print(json.dumps(measure(args.format, level, args.events, sessions)), flush=True)


if __name__ == "__main__":
    main()
