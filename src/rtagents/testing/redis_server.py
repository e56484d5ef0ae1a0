"""A real ``redis-server`` on a free loopback port, for tests of the Redis-backed stores.

The project never fakes Redis: a test that needs it starts one of these (in a
temporary directory, no persistence, no other interface than 127.0.0.1) and
stops it afterwards. Where the binary is missing the test is skipped with a
reason that says how to install it (``make redis``, Debian's ``redis-server``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .server_process import free_port

__all__ = ["RedisServer", "redis_binary", "MISSING_REASON"]

MISSING_REASON = (
    "redis-server is not installed: `make redis` installs it (Debian's redis-server package), "
    "or set RTAGENTS_REDIS_SERVER to the binary"
)


def redis_binary() -> str | None:
    """The redis-server to run: ``RTAGENTS_REDIS_SERVER``, else the one on PATH or in /usr/bin."""
    chosen = os.environ.get("RTAGENTS_REDIS_SERVER")
    if chosen:
        return chosen if Path(chosen).exists() else None
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


class RedisServer:
    """One redis-server process; ``url`` is what ``--redis`` and redis-py take."""

    def __init__(self, binary: str | None = None) -> None:
        found = binary or redis_binary()
        if found is None:
            raise FileNotFoundError(MISSING_REASON)
        self.binary = found
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, ready_within_s: float = 20.0) -> None:
        """Start it and return once it answers PING."""
        self._dir = tempfile.TemporaryDirectory(prefix="rtagents-redis-")
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._dir.name,
            "--daemonize",
            "no",
        ]
        log = Path(self._dir.name) / "redis.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + ready_within_s
        while not self._pong():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer within {ready_within_s} s")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            process, self.process = self.process, None
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def _pong(self) -> bool:
        """A raw RESP ``PING`` (no client library needed to know it is up)."""
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), 0.5) as sock,
        ):
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        return False

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
