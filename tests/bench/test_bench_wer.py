"""The word error rate bench still runs on its committed clips and reports its checks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from wer_text import normalise  # noqa: E402


def test_normalisation_spells_numbers_and_maps_spellings() -> None:
    assert normalise("At 3, our neighbours paid 1,250.") == (
        "at  three , our neighbors paid  one thousand two hundred fifty ."
    )
    assert normalise("42 or 105 or 20") == " forty two  or  one hundred five  or  twenty "


@pytest.mark.timeout(600)  # two Whisper models and seven clips on a loaded 2-core machine
def test_quick_run_matches_the_manifest_and_reports_both_paths() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "wer.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=BENCH,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "differ from" not in result.stdout  # the Piper clips are the committed samples
    assert re.search(r"^piper/alloy/1\.0\s+1\s+[\d.]+\s+[\d.]+\s+[+-][\d.]+$", result.stdout, re.M)
    assert re.search(r"shipped vs 30 s window on short clips: [+-][\d.]+ points", result.stdout)
