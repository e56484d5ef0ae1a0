"""``bench/load.py --bare`` runs both servers at a tiny size and both lose nothing.

The bare ``websockets`` server replays frames captured from the real server
(bench/load_bare.py), so the load generator's own checks (speech events, a
completed reply with all its audio, every emitted frame read) hold for it
too: a row with ``0/0`` lost means the baseline moved the same traffic.
"""

from __future__ import annotations

import json
import subprocess
import sys

from load_kit import BENCH, quick_rows


def test_both_servers_carry_every_step_and_lose_nothing() -> None:
    quick_rows("--bare")


def test_the_bare_server_replays_a_whole_reply_per_turn() -> None:
    """The captured turn holds the real server's reply (speech events, audio, done)."""
    code = (
        "import asyncio, json, sys; sys.path.insert(0, sys.argv[1]); import load_bare; "
        "s = asyncio.run(load_bare.capture()); "
        "print(json.dumps([json.loads(f)['type'] for k in range(40) for f in s.after_append(k)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(BENCH)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    types = json.loads(result.stdout.splitlines()[-1])
    for kind in ("input_audio_buffer.speech_stopped", "response.output_audio.delta"):
        assert kind in types
    assert types.count("response.done") == 2  # one reply per 2 s turn (40 appends)
