"""Installs are reproducible: the lock matches pyproject, the environment matches the lock,
and the wheel a library user gets runs the offline server after the documented steps."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _lock() -> dict[str, Any]:
    return tomllib.loads((ROOT / "uv.lock").read_text())


def _normal(requirement: str) -> tuple[str, frozenset[str], str, str]:
    parsed = Requirement(requirement)
    return (
        canonicalize_name(parsed.name),
        frozenset(parsed.extras),
        str(parsed.specifier),
        str(parsed.marker or ""),
    )


def _locked_requirement(entry: dict[str, Any]) -> tuple[str, frozenset[str], str, str]:
    text = entry["name"] + (f"[{','.join(entry['extras'])}]" if entry.get("extras") else "")
    text += entry.get("specifier", "")
    if "marker" in entry:
        text += f"; {entry['marker']}"
    return _normal(text)


def test_the_lock_records_exactly_what_pyproject_asks_for() -> None:
    """A stale lock would install something pyproject no longer says (refresh: make lock)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {_normal(r) for r in project["project"]["dependencies"]}
    for extra, requirements in project["project"]["optional-dependencies"].items():
        wanted |= {_normal(f"{r}; extra == '{extra}'") for r in requirements}
    (ours,) = [p for p in _lock()["package"] if p["name"] == "rtagents"]
    locked = {_locked_requirement(entry) for entry in ours["metadata"]["requires-dist"]}
    assert locked == wanted
    groups = {
        name: {_normal(r) for r in reqs} for name, reqs in project["dependency-groups"].items()
    }
    locked_groups = {
        name: {_locked_requirement(e) for e in entries}
        for name, entries in ours["metadata"]["requires-dev"].items()
    }
    assert locked_groups == groups


def test_every_installed_distribution_is_the_locked_version() -> None:
    """The test environment came from the lock, not from a resolve (make test: uv sync --frozen)."""
    locked: dict[str, set[str]] = {}
    for package in _lock()["package"]:  # a fork per Python version may lock two versions
        locked.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
    }
    installed.pop("rtagents")
    assert not installed.keys() - locked.keys(), "installed but not in uv.lock"
    mismatched = {n: (v, locked[n]) for n, v in installed.items() if v not in locked[n]}
    assert not mismatched


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*command: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, check=False, **kwargs
    )


@pytest.mark.slow
def test_the_wheel_gives_a_working_offline_server(tmp_path: Path) -> None:
    """The README's library install: the wheel with [local,webrtc], then ``rtagents setup``.

    The wheel is built offline (hatchling from the lock) and installed into a
    fresh virtualenv with uv's pip-compatible installer, constrained to the
    lock's versions (what this project tested); ``rtagents setup`` then uses
    that virtualenv's own pip, as a pip user's would.
    """
    uv = BIN / "uv"
    dist = tmp_path / "dist"
    built = _run(uv, "build", "--wheel", "--no-build-isolation", "--out-dir", dist, ROOT)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("rtagents-*.whl")
    constraints = tmp_path / "constraints.txt"
    exported = _run(
        uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-default-groups",
        "--extra", "local", "--extra", "webrtc", "--output-file", constraints,
        cwd=ROOT,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    venv = tmp_path / "venv"
    assert _run(uv, "venv", "--seed", "--python", sys.executable, venv).returncode == 0
    python = venv / "bin" / "python"
    install = _run(
        uv, "pip", "install", "--python", python, f"{wheel}[local,webrtc]", "-c", constraints
    )
    assert install.returncode == 0, install.stderr
    rtagents = venv / "bin" / "rtagents"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RTAGENTS_", "VIRTUAL_ENV"))}

    before = _run(rtagents, "serve", "--port", "0", env=env)
    assert before.returncode != 0 and "Traceback" not in before.stderr
    assert "run `rtagents setup`" in before.stderr and "--engine scripted" in before.stderr

    setup = _run(rtagents, "setup", env=env, timeout=600)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "verified" in setup.stdout
    assert _run(rtagents, "setup", "--check", env=env).returncode == 0

    _serve_until_ready(rtagents, env)


def _serve_until_ready(rtagents: Path, env: dict[str, str]) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [str(rtagents), "serve", "--port", str(port), "--api-key", "sk-wheel"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300  # loading four models on a busy 2-core machine
        while True:
            assert proc.poll() is None, "rtagents serve exited"
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the installed server never became ready"
            time.sleep(0.5)
        body = health.json()
        assert body["status"] == "ready" and body["engine"] == "local"
        parts = body["engines"]
        assert sorted(parts) == ["llm", "stt", "tts", "vad"]
        assert all(part["state"] == "ready" for part in parts.values()), parts
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
