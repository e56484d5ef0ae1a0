"""The premature-reply set: sentences with a 300-600 ms pause where they are not finished.

Each utterance is a sentence cut where a speaker might stop to think, in front
of the words that finish it: after a preposition, an article or a conjunction,
in the middle of a number, in the middle of a list, or after a subordinate
clause that still waits for its main clause. Both halves are spoken by the
packaged Piper voice (``alloy``, no sampling noise, so the same text is the
same audio) and joined with exact digital silence: the first half is cut just
after its last voiced sample and the second just before its first (a sample
at >= 2 % of the half's peak magnitude, as ``bench/felt_latency.py`` finds the
end of speech), so the pause is exactly the silence inserted. The second
half keeps Piper's own tail.

``bench/pause_manifest.json`` is committed: each utterance's text, kind, pause
position (ms from the utterance's first sample) and length, its number of
24 kHz pcm16 samples, their loudness contour and their sha256 on the machine
that wrote it. ``bench/premature_replies.py`` checks every clip against it
before streaming, so a figure always belongs to the committed set: the same
samples, or on a CPU that rounds Piper's floats otherwise, the same number of
samples, pause and contour (``bench/clip_contour.py``).

Run: ``.venv/bin/python bench/pause_clips.py --write`` (re)writes the manifest;
``--check`` only compares.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from clip_contour import as_text, contour, same_contour

from rtagents.engines.local.piper_tts import PiperTTS
from rtagents.protocol.audio import PCM_RATE, resample_pcm16

MANIFEST = Path(__file__).with_name("pause_manifest.json")
PAUSES_MS = (300, 400, 500, 600)
VOICING_FRACTION = 0.02  # of a half's peak magnitude (as bench/felt_latency.py)

# (kind, the words before the pause, the words after it); written for this bench.
SENTENCES = (
    ("preposition", "I would like to book a table for", "four people tomorrow evening."),
    ("preposition", "Can you send the report to", "my manager before noon?"),
    ("article", "Please play the", "new album by my favourite band."),
    ("article", "Could you find me a", "cheap hotel near the station?"),
    ("conjunction", "I need to pick up the kids and", "then drive to the supermarket."),
    ("conjunction", "We could go to the beach or", "stay at home and watch a film."),
    ("number", "My phone number is five five five", "two one nine eight."),
    ("number", "Set an alarm for six", "forty five tomorrow morning."),
    ("number", "The total came to twenty", "three dollars and fifty cents."),
    ("list", "I need eggs, milk, bread", "and a bag of rice."),
    ("list", "Add apples, bananas, oranges", "and grapes to the shopping list."),
    ("list", "We visited Paris, Rome", "and Madrid last summer."),
    ("subordinate", "When I get home tonight", "remind me to call my sister."),
    ("subordinate", "If it rains tomorrow morning", "cancel the picnic please."),
)


@dataclass(frozen=True, slots=True)
class PauseClip:
    """One utterance of the set: 24 kHz pcm16 with a known pause."""

    kind: str
    before: str
    after: str
    pause_ms: int
    pause_at_ms: float  # from the first sample: where the silence begins
    pcm16: bytes

    @property
    def text(self) -> str:
        return f"{self.before} {self.after}"

    @property
    def name(self) -> str:
        return f"{self.pause_ms}ms/{self.before}"

    @property
    def pause_end_ms(self) -> float:
        return self.pause_at_ms + self.pause_ms

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pcm16).hexdigest()


def voiced_span(pcm16: bytes) -> tuple[int, int]:
    """First and last sample at or above the voicing threshold (inclusive)."""
    samples = np.abs(np.frombuffer(pcm16, dtype=np.int16).astype(np.int32))
    threshold = max(1, int(samples.max() * VOICING_FRACTION))
    voiced = np.flatnonzero(samples >= threshold)
    return int(voiced[0]), int(voiced[-1])


def join(before: bytes, after: bytes, pause_ms: int) -> tuple[bytes, float]:
    """``before`` to its last voiced sample, ``pause_ms`` of silence, ``after`` from its first."""
    _, last = voiced_span(before)
    first, _ = voiced_span(after)
    head = before[: (last + 1) * 2]
    silence = bytes(PCM_RATE * pause_ms // 1000 * 2)
    return head + silence + after[first * 2 :], (last + 1) / PCM_RATE * 1000


async def make_clips(
    pauses: tuple[int, ...] = PAUSES_MS, limit: int | None = None
) -> list[PauseClip]:
    """The set in manifest order (pause length, then sentence); ``limit`` sentences a pause."""
    tts = PiperTTS(variation=0.0)
    spoken: dict[str, bytes] = {}

    async def speak(text: str) -> bytes:
        if text not in spoken:
            pcm = b"".join([chunk async for chunk in tts.synthesize(text, voice="alloy")])
            spoken[text] = resample_pcm16(pcm, tts.sample_rate, PCM_RATE)
        return spoken[text]

    clips = []
    for pause_ms in pauses:
        for kind, before, after in SENTENCES[:limit]:
            pcm16, pause_at = join(await speak(before), await speak(after), pause_ms)
            clips.append(PauseClip(kind, before, after, pause_ms, pause_at, pcm16))
    return clips


def manifest(clips: list[PauseClip]) -> dict[str, object]:
    return {
        "rate": PCM_RATE,
        "format": "pcm16 mono little-endian; sha256 over the samples (bit-exact on the "
        "CPU that wrote this); contour: dBFS per 100 ms (bench/clip_contour.py)",
        "clips": [
            {
                "name": clip.name,
                "kind": clip.kind,
                "text": clip.text,
                "pause_after": clip.before,
                "pause_at_ms": round(clip.pause_at_ms, 3),
                "pause_ms": clip.pause_ms,
                "seconds": round(len(clip.pcm16) / 2 / PCM_RATE, 3),
                "samples": len(clip.pcm16) // 2,
                "sha256": clip.sha256,
                "contour": as_text(contour(clip.pcm16, PCM_RATE)),
            }
            for clip in clips
        ],
    }


def differences(clips: list[PauseClip]) -> list[str]:
    """Names of clips whose samples or pause differ from the committed manifest."""
    committed = {c["name"]: c for c in json.loads(MANIFEST.read_text())["clips"]}
    wrong = []
    for clip in clips:
        entry = committed.get(clip.name)
        if (
            entry is None
            or entry["samples"] != len(clip.pcm16) // 2
            or abs(entry["pause_at_ms"] - clip.pause_at_ms) > 0.01
            or not (
                entry["sha256"] == clip.sha256
                or same_contour(contour(clip.pcm16, PCM_RATE), entry["contour"])
            )
        ):
            wrong.append(clip.name)
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the committed manifest")
    parser.add_argument("--check", action="store_true", help="compare with the manifest")
    args = parser.parse_args()
    clips = asyncio.run(make_clips())
    if args.write:
        MANIFEST.write_text(json.dumps(manifest(clips), indent=1) + "\n")
        print(f"wrote {MANIFEST} ({len(clips)} clips)")
    else:
        wrong = differences(clips)
        print("all clips match the manifest" if not wrong else f"differ: {', '.join(wrong)}")


if __name__ == "__main__":
    main()
