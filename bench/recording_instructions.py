"""What recording costs in instructions: a load-independent count of the same sessions.

``bench/recording.py`` measures CPU seconds, which a shared machine moves by
several points between sittings. This counts the instructions the server
side executes for one in-memory session (the host and the scripted engines,
server VAD on) with recording off and on, under valgrind's callgrind, with
collection switched on only around the measured session (imports and a
warm-up session are not counted). The counts repeat to a fraction of a
percent, so a change of the recorder shows as it is.

``--setup websocket`` counts the deployment's setup instead: the real server
(uvicorn, a loopback WebSocket) in the counted process and the client in a
process of its own, not counted, as ``bench/recording.py``'s ``websocket``
rows. The host's own work is then a smaller part of what the server does, so
recording's share is smaller than in memory.

Run: ``.venv/bin/python bench/recording_instructions.py`` (``--turns N``,
``--setup memory|websocket``); needs valgrind (Debian's ``valgrind`` package).
Takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def count(mode: str, turns: int, folder: Path, setup: str = "memory") -> int:
    """Instructions of one measured session, ``mode`` ``off`` or ``on``."""
    out = folder / f"callgrind.{mode}"
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        sys.executable, __file__, "--child", mode, str(turns), str(folder / mode), setup,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


async def child(mode: str, turns: int, folder: Path, setup: str) -> None:
    """Inside valgrind: warm up, then count one session only."""
    sys.path.insert(0, str(HERE))
    import recording  # bench/recording.py: the same session as the CPU-seconds bench

    target = folder if mode == "on" else None
    session = recording.websocket_session if setup == "websocket" else recording.one_session
    await session(None, 1)
    await session(target, 1)
    collect("on")
    await session(target, turns)
    collect("off")


def collect(state: str) -> None:
    """Switch callgrind's counting for this process; blocking on purpose, so nothing
    else runs on the loop between the switch and the measured session."""
    command = ["callgrind_control", "-i", state, str(os.getpid())]
    subprocess.run(command, capture_output=True, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--setup", choices=("memory", "websocket"), default="memory")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, turns, folder, setup = args.child
        asyncio.run(child(mode, int(turns), Path(folder), setup))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        off = count("off", args.turns, folder, args.setup)
        on = count("on", args.turns, folder, args.setup)
    where = "over a loopback WebSocket" if args.setup == "websocket" else "in memory"
    print(f"one session {where}, {args.turns} turns, server VAD on, scripted engines")
    print(f"instructions: off {off:,}  on {on:,}  -> recording costs {100 * (on / off - 1):.1f} %")


if __name__ == "__main__":
    main()
