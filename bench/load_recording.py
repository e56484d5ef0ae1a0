"""``bench/load.py --record``: what ``serve --record`` costs a loaded server, in one run.

Issue 13 asks that recording cost at most 5 % of throughput, measured on and
off in the same run. A realtime server's throughput is the sessions it
carries, and what bounds them is its CPU per streamed audio second (the
latency goal fails once one core is full), so that is what is compared: two
bench servers (``bench/load_server.py``), one recording every session into a
temporary folder as ``rtagents serve --record DIR`` does, the other not, each
step of N real-time sessions run against both, the order alternating from step
to step (``load_baseline.alternate``). Repeat a step (``--steps 200,200,200``)
for a spread: the summary gives the median of the steps' costs and the cost
over all steps pooled.

Cost = 1 - (CPU per audio second off) / (CPU per audio second on): the share
of the sessions one core carries that recording takes away. Each step starts
both servers afresh (see ``alternate``). ``--control`` runs the same steps with
neither server recording: the spread of the method itself.

The recordings go to a temporary folder in the working directory, as
``serve --record DIR`` would be pointed at a data folder: on this machine a
file made in ``/tmp`` costs 200 µs against 22 µs in ``/work`` (the same ext4
disk), and each session makes one.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from load import ServerProcess
from load_baseline import alternate


def throughput_cost(off_ms: float, on_ms: float) -> float:
    """Percent of the sessions a core carries that recording takes (negative: noise)."""
    return 100 * (1 - off_ms / on_ms) if on_ms else 0.0


def written(folder: Path) -> tuple[int, int]:
    """The recordings in ``folder``: how many, and their bytes (checks recording ran)."""
    recordings = list(folder.glob("*.jsonl"))
    return len(recordings), sum(path.stat().st_size for path in recordings)


async def compare_recording(
    steps: list[int],
    duration_s: float,
    rcvbuf: int,
    client: str,
    *,
    control: bool = False,
    together: bool = False,
) -> None:
    """``control``: the second server records nothing either (an A/A run): the costs it
    prints are the method's own spread, what a real cost has to stand out from."""
    with tempfile.TemporaryDirectory(prefix="rtagents-load-record-", dir=Path.cwd()) as folder:
        extra = [] if control else ["--record", folder]
        servers = (
            lambda: ServerProcess(stamps=True),
            lambda: ServerProcess(stamps=True, extra=extra),
        )
        cost = ("cost", lambda off_ms, on_ms: f"{throughput_cost(off_ms, on_ms):.1f}%")
        labels = ("off", "off 2" if control else "on")
        pairs = await alternate(
            servers, labels, cost, steps, duration_s, rcvbuf, client, together=together
        )
        count, size = written(Path(folder))
    costs = [throughput_cost(off_ms, on_ms) for off_ms, on_ms in pairs]
    pooled = throughput_cost(sum(p[0] for p in pairs), sum(p[1] for p in pairs))
    print(f"recordings written: {count} files, {size / 2**20:.1f} MiB")
    what = "the A/A control's spread" if control else "recording costs"
    print(
        f"{what}: {statistics.median(costs):.1f} % of throughput (median of "
        f"{len(costs)} steps; pooled {pooled:.1f} %; goal <= 5 %)"
    )
