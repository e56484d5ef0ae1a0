"""The test helper that runs ``rtagents serve`` as a process never leaves one running.

A server that does not come up in time, or exits at once, is stopped (or was
already reaped) before ``start`` raises, so a test that fails while starting
one leaves no process behind for the rest of the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rtagents.testing.server_process import ServerProcess


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_server_that_does_not_listen_in_time_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ServerProcess(tmp_path / "slow.log")
    started: list[int] = []
    monkeypatch.setattr(server, "_accepting", lambda: started.append(server.pid) or False)
    with pytest.raises(RuntimeError, match="did not listen within"):
        server.start(ready_within_s=0.3)
    assert started and not _running(started[0])
    assert server.process is None
    server.stop()  # nothing left to stop: a no-op


def test_a_server_that_exits_at_once_says_why_and_leaves_nothing(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "bad.log", args=["--no-such-flag"])
    with pytest.raises(RuntimeError, match="the server exited with"):
        server.start(ready_within_s=30)
    assert server.process is None
