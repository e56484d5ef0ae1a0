"""What recording costs in instructions: a load-independent count of the same sessions.

``bench/recording.py`` measures CPU seconds, which a shared machine moves by
several points between sittings. This counts the instructions the server
side executes for one in-memory session (the host and the scripted engines,
server VAD on) with recording off and on, under valgrind's callgrind, with
collection switched on only around the measured session (imports and a
warm-up session are not counted). The counts repeat to a fraction of a
percent, so a change of the recorder shows as it is.

Run: ``.venv/bin/python bench/recording_instructions.py`` (``--turns N``);
needs valgrind (Debian's ``valgrind`` package). Takes a few minutes.
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


def count(mode: str, turns: int, folder: Path) -> int:
    """Instructions of one measured session, ``mode`` ``off`` or ``on``."""
    out = folder / f"callgrind.{mode}"
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        sys.executable, __file__, "--child", mode, str(turns), str(folder / mode),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


async def child(mode: str, turns: int, folder: Path) -> None:
    """Inside valgrind: warm up, then count one session only."""
    sys.path.insert(0, str(HERE))
    import recording  # bench/recording.py: the same session as the CPU-seconds bench

    target = folder if mode == "on" else None
    await recording.one_session(None, 1)
    await recording.one_session(target, 1)
    collect("on")
    await recording.one_session(target, turns)
    collect("off")


def collect(state: str) -> None:
    """Switch callgrind's counting for this process; blocking on purpose, so nothing
    else runs on the loop between the switch and the measured session."""
    command = ["callgrind_control", "-i", state, str(os.getpid())]
    subprocess.run(command, capture_output=True, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, turns, folder = args.child
        asyncio.run(child(mode, int(turns), Path(folder)))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        off, on = count("off", args.turns, folder), count("on", args.turns, folder)
    print(f"one in-memory session, {args.turns} turns, server VAD on, scripted engines")
    print(f"instructions: off {off:,}  on {on:,}  -> recording costs {100 * (on / off - 1):.1f} %")


if __name__ == "__main__":
    main()
