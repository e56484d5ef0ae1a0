"""Word error rate of the server's STT path as shipped, against the 30 s window.

Every clip of the committed set (``bench/wer_clips.py``: Piper and espeak-ng
voices at several speeds, clean and with noise, sentences and long runs of
30 s, 60 s and 120 s) is transcribed by:

- ``shipped``: the engine the local backend builds (``local_engines().stt``:
  Whisper base int8, 2 threads, the smallest encoder window that holds the
  clip, long clips cut at pauses), with the server's default options
  (language detected, no hints);
- ``30 s window``: the same engine held to a 30 s encoder window
  (``min_window_s=30``), the window Whisper was trained on;
- ``before`` (long clips only, ``--before``): faster-whisper's own 30 s
  sliding window with its VAD filter, what long turns used until the pieces.

Normalisation before counting (both sides): lower case; digits spelled out
as words (Whisper writes "3", the texts say "three"); hyphens are spaces; all
punctuation but apostrophes dropped; British spellings the texts use mapped
to Whisper's American ones. WER = (substitutions + deletions + insertions) /
reference words, pooled over clips.

Checks: the shipped path is at most 1 point worse than the 30 s window on the
short clips; each long clip is within 2 points of the same sentences spoken
one by one in the same condition (shipped path both).

Run: ``.venv/bin/python bench/wer.py`` (about 10 minutes on 2 cores);
``--quick`` for a few clips; ``--json FILE`` keeps every transcript.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from speech_clips import word_errors
from wer_clips import CONDITIONS, LONG, RATE, SENTENCES, Clip, differences, make_clips
from wer_text import normalise

from rtagents.engines.local.factory import local_engines
from rtagents.engines.local.whisper_stt import WhisperSTT
from rtagents.protocol.audio import pcm16_to_float32

FAST_PATH_BUDGET = 1.0  # points of WER the shipped path may cost against the 30 s window
LONG_BUDGET = 2.0  # points a long turn may lose against the same words in short clips


def errors(reference: str, heard: str) -> tuple[int, int]:
    return word_errors(normalise(reference), normalise(heard))


def rate(results: list[dict[str, Any]], key: str) -> float:
    edits = sum(r[key][0] for r in results)
    return 100 * edits / max(1, sum(r[key][1] for r in results))


def before(stt: WhisperSTT, clip: Clip) -> str:
    """The long-turn path as it was: faster-whisper's loop with its VAD filter."""
    segments, _ = stt._model.transcribe(
        pcm16_to_float32(clip.pcm16),
        beam_size=1,
        vad_filter=True,
        without_timestamps=True,
        condition_on_previous_text=False,
    )
    return " ".join(s.text.strip() for s in segments)


async def transcribe_all(clips: list[Clip], with_before: bool) -> list[dict[str, Any]]:
    shipped = local_engines(vad=False).stt
    assert isinstance(shipped, WhisperSTT)
    full = WhisperSTT(cpu_threads=2, min_window_s=30)
    await shipped.warm_up()
    await full.warm_up()
    results = []
    for number, clip in enumerate(clips, 1):
        row: dict[str, Any] = {"clip": clip.name, "condition": clip.condition.name}
        row |= {"seconds": clip.seconds, "text": clip.text, "long": clip.name.endswith(tuple(LONG))}
        engines = {"shipped": shipped, "full": full}
        for label, engine in engines.items():
            began = time.perf_counter()
            heard = (await engine.transcribe(clip.pcm16)).text
            row[f"{label}_s"] = time.perf_counter() - began
            row[label], row[f"{label}_text"] = errors(clip.text, heard), heard
        if with_before and row["long"]:
            heard = await asyncio.to_thread(before, full, clip)
            row["before"], row["before_text"] = errors(clip.text, heard), heard
        results.append(row)
        print(f"\r{number}/{len(clips)} clips", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    shipped.close()
    full.close()
    return results


def short_table(results: list[dict[str, Any]]) -> float:
    """Short clips per condition; returns the shipped path's pooled cost in points."""
    print("\nShort clips (one sentence each), WER %:")
    print(f"{'condition':<30}{'clips':>6}{'shipped':>9}{'30 s':>7}{'diff':>7}")
    short = [r for r in results if not r["long"]]
    for condition in CONDITIONS:
        rows = [r for r in short if r["condition"] == condition.name]
        if rows:
            fast, full = rate(rows, "shipped"), rate(rows, "full")
            name = condition.name
            print(f"{name:<30}{len(rows):>6}{fast:>9.2f}{full:>7.2f}{fast - full:>+7.2f}")
    fast, full = rate(short, "shipped"), rate(short, "full")
    print(f"{'all short clips':<30}{len(short):>6}{fast:>9.2f}{full:>7.2f}{fast - full:>+7.2f}")
    return fast - full


def long_table(results: list[dict[str, Any]]) -> list[float]:
    """Long clips against the same sentences one by one; returns each long clip's excess."""
    longs = [r for r in results if r["long"]]
    if not longs:
        return []
    print("\nLong clips (one turn) vs the same sentences as short clips (shipped), WER %:")
    header = f"{'clip':<40}{'s':>6}{'shipped':>9}{'30 s':>7}{'before':>8}{'short':>7}{'diff':>7}"
    print(header)
    by_sentence = {(r["condition"], r["text"]): r for r in results if not r["long"]}
    excess = []
    for row in longs:
        count = LONG[row["clip"].rsplit("/", 1)[1]]
        same = [by_sentence.get((row["condition"], s)) for s in SENTENCES[:count]]
        if any(r is None for r in same):
            continue  # --quick left some out
        short = rate([r for r in same if r], "shipped")
        fast, full = rate([row], "shipped"), rate([row], "full")
        old = f"{rate([row], 'before'):>8.2f}" if "before" in row else f"{'-':>8}"
        excess.append(fast - short)
        print(
            f"{row['clip']:<40}{row['seconds']:>6.1f}{fast:>9.2f}{full:>7.2f}{old}"
            f"{short:>7.2f}{fast - short:>+7.2f}"
        )
    return excess


def length_table(results: list[dict[str, Any]]) -> None:
    print("\nBy clip length, WER % (and compute per audio second):")
    buckets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in results:
        seconds = row["seconds"]
        edges = ((3, "< 3 s"), (6, "3-6 s"), (12, "6-12 s"), (45, "12-45 s"), (90, "45-90 s"))
        name = next((label for edge, label in edges if seconds < edge), "90-130 s")
        buckets[name].append(row)
    head = f"{'length':<10}{'clips':>6}{'shipped':>9}{'30 s':>7}"
    print(f"{head}{'ms/s shipped':>14}{'ms/s 30 s':>11}")
    for name, rows in buckets.items():
        audio = sum(r["seconds"] for r in rows)
        cost = {k: 1000 * sum(r[f"{k}_s"] for r in rows) / audio for k in ("shipped", "full")}
        print(
            f"{name:<10}{len(rows):>6}{rate(rows, 'shipped'):>9.2f}{rate(rows, 'full'):>7.2f}"
            f"{cost['shipped']:>14.0f}{cost['full']:>11.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 sentence per condition, no long clips"
    )
    parser.add_argument("--before", action="store_true", help="also the old long-clip path")
    parser.add_argument("--json", type=Path, help="write every transcript here")
    parser.add_argument(
        "--allow-drift", action="store_true", help="run even if clips differ from the manifest"
    )
    args = parser.parse_args()
    clips = asyncio.run(make_clips(sentences=1 if args.quick else None))
    drift = differences(clips, subset=args.quick)
    if drift:
        print(f"{len(drift)} clips differ from bench/wer_manifest.json: {', '.join(drift[:5])}")
        if not args.allow_drift:
            raise SystemExit("not the committed set; --allow-drift runs anyway (say so)")
    print(f"{len(clips)} clips, {sum(c.seconds for c in clips):.0f} s of audio at {RATE} Hz")
    results = asyncio.run(transcribe_all(clips, args.before))
    cost = short_table(results)
    excess = long_table(results)
    length_table(results)
    print(f"\nshipped vs 30 s window on short clips: {cost:+.2f} points ", end="")
    print("PASS" if cost <= FAST_PATH_BUDGET else "FAIL", f"(budget {FAST_PATH_BUDGET})")
    if excess:
        worst = max(excess)
        print(f"long turns vs the same words in short clips: worst {worst:+.2f} points ", end="")
        print("PASS" if worst <= LONG_BUDGET else "FAIL", f"(budget {LONG_BUDGET})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
