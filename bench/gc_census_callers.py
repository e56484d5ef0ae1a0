"""The callers of ``bench/gc_census.py``, in their own process (their objects are not counted).

Arguments: URL KEY SESSIONS TURNS. Each session is one of ``bench/load.py``'s
callers (real-time appends, server VAD, a reply per turn); exits non-zero if
any failed.
"""

from __future__ import annotations

import asyncio
import sys
import time

from load_client import Caller, run_caller, turn_frames


async def main(url: str, key: str, sessions: int, turns: int) -> int:
    frames = turn_frames()
    callers = [Caller() for _ in range(sessions)]
    start = time.monotonic() + 0.3
    await asyncio.gather(
        *(
            run_caller(url, key, frames, start + i * 0.01, turns, caller)
            for i, caller in enumerate(callers)
        )
    )
    failed = [caller.error for caller in callers if caller.error]
    if failed:
        print(f"{len(failed)} callers failed, first: {failed[0]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    url, key, sessions, turns = sys.argv[1:5]
    sys.exit(asyncio.run(main(url, key, int(sessions), int(turns))))
