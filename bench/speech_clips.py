"""Shared by the speech-accuracy benches: synthesized clips and word error rate.

Clips are spoken by the packaged Piper voice without its sampling noise, so a
run is repeatable; the word error rate is the word-level edit distance over
the reference's length, after lower-casing and dropping punctuation.
"""

from __future__ import annotations

import re

from rtagents.engines.local.piper_tts import PiperTTS
from rtagents.protocol.audio import resample_pcm16

STT_RATE = 16_000


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def word_errors(reference: str, heard: str) -> tuple[int, int]:
    """(edits, reference words): substitutions + deletions + insertions, by edit distance."""
    ref, hyp = words(reference), words(heard)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1], len(ref)


def wer(pairs: list[tuple[str, str]]) -> float:
    """Word error rate over (reference, heard) pairs, pooled."""
    edits = total = 0
    for reference, heard in pairs:
        e, n = word_errors(reference, heard)
        edits, total = edits + e, total + n
    return edits / max(total, 1)


async def spoken(texts: list[str], rate: int = STT_RATE) -> dict[str, bytes]:
    """Each text spoken by Piper (voice ``alloy``, no sampling noise) as pcm16 at ``rate``."""
    tts = PiperTTS(variation=0.0)
    clips = {}
    for text in texts:
        pcm = b"".join([chunk async for chunk in tts.synthesize(text, voice="alloy")])
        clips[text] = resample_pcm16(pcm, tts.sample_rate, rate)
    return clips
