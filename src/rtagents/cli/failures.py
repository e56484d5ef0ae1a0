"""CLI failures a person can act on: one line on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path


class CliError(Exception):
    """A failure the user can fix; ``str()`` is the whole message (one line)."""

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def readable_file(value: str | None, what: str) -> Path | None:
    """``value`` as a path when set, after checking it can be read (else a CliError
    naming ``what``: "config file", "policy file")."""
    if not value:
        return None
    path = Path(value)
    try:
        path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read the {what} {value}: {exc.strerror or exc}") from exc
    return path


def report(command: str, message: str) -> None:
    print(f"rtagents {command}: {message}", file=sys.stderr, flush=True)


def bind_failure(exc: OSError, host: str, port: int) -> CliError:
    """Why ``host:port`` could not be bound, in words, with who holds it if we can tell."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        holder = port_holder(port)
        held = f" (held by {holder})" if holder else ""
        return CliError(
            f"port {port} on {host} is already in use{held}; stop that process or pass "
            "--port with another port (0 picks a free one)",
            exit_code=1,
        )
    if exc.errno == errno.EACCES:
        return CliError(
            f"not allowed to listen on {where} (ports below 1024 need privileges); "
            "use --port 1024 or above",
            exit_code=1,
        )
    reason = exc.strerror or str(exc)
    return CliError(f"cannot listen on {where}: {reason}; check --host", exit_code=1)


def port_holder(port: int) -> str | None:
    """``pid N (name)`` of the process listening on TCP ``port``, when Linux's /proc tells."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    name = (proc / "comm").read_text().strip()
                    return f"pid {proc.name} ({name})"
        except OSError:
            continue  # another user's process, or it exited meanwhile
    return "another process"


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(inode)
    return inodes
