"""A real ``rtagents serve`` process on a loopback port, for fuzz and chaos runs.

In-process servers share the test's event loop and memory; a process of its
own has its own RSS to measure, its own log to search for tracebacks, and can
be killed with SIGKILL (nothing flushed, nothing closed) and started again on
the same port, which is what a crash and a supervisor's restart look like to a
client.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ServerProcess", "free_port"]

# What a server log holds when something inside it raised and nobody caught it.
CRASH_MARKERS = (
    "Traceback (most recent call last)",
    "Task exception was never retrieved",
    "Exception in callback",
    "Exception in ASGI application",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """``rtagents serve --engine scripted`` on ``port`` with ``api_key``, its log in ``log_path``.

    ``args`` adds flags (``--scenario-rules FILE``, ``--webrtc-loopback``...).
    The log file is appended to across restarts, so one search covers every
    life of the server.
    """

    def __init__(
        self,
        log_path: Path,
        *,
        api_key: str = "sk-test-process",
        port: int | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.log_path = log_path
        self.api_key = api_key
        self.port = port or free_port()
        self.args = list(args)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not running"
        return self.process.pid

    def command(self) -> list[str]:
        serve = ["serve", "--engine", "scripted", "--host", "127.0.0.1"]
        serve += ["--port", str(self.port), "--api-key", self.api_key, *self.args]
        return [sys.executable, "-m", "rtagents.cli.main", *serve]

    def start(self, ready_within_s: float = 60.0) -> None:
        """Start the process and return once it accepts TCP connections on its port."""
        assert self.process is None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.starts += 1
        try:
            self._wait_listening(self.process, ready_within_s)
        except BaseException:  # a server that never came up is not left running
            self.stop(within_s=5.0)
            raise

    def _wait_listening(self, process: subprocess.Popen[bytes], ready_within_s: float) -> None:
        deadline = time.monotonic() + ready_within_s
        while not self._accepting():
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}: {self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not listen within {ready_within_s} s")
            time.sleep(0.05)

    def kill9(self) -> None:
        """SIGKILL: the process ends at once; no session is closed, nothing is flushed."""
        assert self.process is not None, "the server is not running"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Kill -9 and start again on the same port (a crash and a supervisor's restart)."""
        self.kill9()
        self.start()

    def stop(self, within_s: float = 20.0) -> int | None:
        """SIGTERM (the graceful shutdown), SIGKILL past ``within_s``; the exit status."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(within_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None

    def rss_bytes(self) -> int:
        """The process's resident memory now (Linux /proc), 0 where it cannot be read."""
        if self.process is None:
            return 0
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def log_bytes(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def crash_lines(self, limit: int = 20) -> list[str]:
        """Log lines that say an exception escaped somewhere in the server."""
        found: list[str] = []
        with self.log_path.open("rb") as log:
            for raw in log:
                line = raw.decode("utf-8", "replace")
                if any(marker in line for marker in CRASH_MARKERS):
                    found.append(line.rstrip()[:300])
                    if len(found) >= limit:
                        break
        return found

    def crash_report(self, lines: int = 60) -> str:
        """The log from the first crash marker on (``lines`` lines), "" if none."""
        kept: list[str] = []
        with self.log_path.open("rb") as log:
            for raw in log:
                line = raw.decode("utf-8", "replace").rstrip()
                if kept or any(marker in line for marker in CRASH_MARKERS):
                    kept.append(line[:300])
                    if len(kept) >= lines:
                        break
        return "\n".join(kept)

    def tail(self, chars: int = 2000) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(max(0, self.log_bytes() - chars))
            return log.read().decode("utf-8", "replace")

    def _accepting(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
            return True
        return False

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
