"""``bench/load.py --record`` runs a recording server beside a plain one and both lose nothing.

The recording server must really record: one file per session it served (each
step's fresh server's warm-up and its sessions), so a cost near zero cannot
come from a recorder that never ran; the A/A control records nothing.
"""

from __future__ import annotations

import re
import sys

from load_kit import BENCH, quick_rows

sys.path.insert(0, str(BENCH))

from load_recording import throughput_cost  # noqa: E402


def test_both_servers_carry_every_step_and_every_session_is_recorded() -> None:
    output = quick_rows("--record")
    written = re.search(r"recordings written: (\d+) files", output)
    assert written is not None and int(written[1]) == (1 + 2) + (1 + 4), output  # warm-ups
    assert re.search(r"recording costs: -?[\d.]+ % of throughput", output)


def test_both_servers_at_once_carry_every_step_and_every_session_is_recorded() -> None:
    """``--together``: each step runs N sessions against both servers at the same time."""
    output = quick_rows("--record", "--together")
    written = re.search(r"recordings written: (\d+) files", output)
    assert written is not None and int(written[1]) == (1 + 2) + (1 + 4), output
    # Steps take turns at which server starts first: a place in the order is not a cost.
    firsts = re.findall(r"^\s+[24]\s.*\s(off|on)$", output, re.MULTILINE)
    assert firsts == ["off", "on"], output


def test_the_control_run_records_nothing_and_says_it_measured_the_spread() -> None:
    output = quick_rows("--record", "--control")
    assert "recordings written: 0 files" in output, output
    assert "the A/A control's spread:" in output


def test_the_cost_is_the_share_of_sessions_recording_takes() -> None:
    assert round(throughput_cost(off_ms=9.5, on_ms=10.0), 9) == 5.0
    assert throughput_cost(off_ms=10.0, on_ms=10.0) == 0.0
    assert throughput_cost(off_ms=11.0, on_ms=10.0) < 0  # noise can make it negative
    assert throughput_cost(off_ms=1.0, on_ms=0.0) == 0.0  # no CPU tick counted: no figure
