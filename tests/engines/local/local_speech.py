"""Test utterances made on the spot with the packaged TTS engines (no audio files).

Shared by the local-engine tests (and usable by server tests that need real
speech): synthesize a sentence with Piper or espeak-ng, resample it to the rate
under test, and pad it with exactly known silence, so the true speech
boundaries are known to the sample.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rtagents.engines.base import TTS
from rtagents.engines.local.espeak_tts import EspeakTTS
from rtagents.engines.local.piper_tts import PiperTTS
from rtagents.protocol.audio import resample_pcm16

Engine = Literal["piper", "espeak"]

# Plain words only: Whisper writes numbers as digits, which a word match would not forgive.
SENTENCES = (
    "Hello there.",
    "What time is it?",
    "Please book a table for two.",
    "The weather today is sunny and warm.",
    "Can you tell me how to get to the train station from here?",
    "My flight leaves tomorrow morning, so I need a taxi to the airport before breakfast.",
)


@functools.cache
def engine(name: Engine) -> TTS:
    """One engine per process: loading Piper once is enough for every test module.

    Piper runs without its sampling noise, so a sentence is the same audio in
    every run and a test that passes once passes always."""
    return PiperTTS(variation=0.0) if name == "piper" else EspeakTTS()


async def collect(tts: TTS, text: str, *, voice: str = "alloy", speed: float = 1.0) -> bytes:
    return b"".join([chunk async for chunk in tts.synthesize(text, voice=voice, speed=speed)])


def speak(
    text: str,
    *,
    using: Engine = "piper",
    rate: int = 16_000,
    voice: str = "alloy",
    speed: float = 1.0,
) -> bytes:
    """``text`` spoken as pcm16 at ``rate``. Synchronous, so fixtures can call it;
    it runs its own event loop on a helper thread (works inside async tests too)."""
    tts = engine(using)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pcm = pool.submit(asyncio.run, collect(tts, text, voice=voice, speed=speed)).result()
    return resample_pcm16(pcm, tts.sample_rate, rate)


def speech_bounds(pcm16: bytes, rate: int, *, floor: float = 0.01) -> tuple[float, float]:
    """(first, last) ms where the signal exceeds ``floor`` of full scale: the true
    speech boundaries of a clean synthetic clip."""
    samples = np.abs(np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0)
    loud = np.flatnonzero(samples > floor)
    if not len(loud):
        return 0.0, 0.0
    return loud[0] * 1000.0 / rate, (loud[-1] + 1) * 1000.0 / rate


@dataclass(frozen=True)
class Utterance:
    """Speech padded with known digital silence; bounds in ms from the clip start."""

    text: str
    pcm16: bytes
    rate: int
    speech_start_ms: float
    speech_end_ms: float


def padded(
    text: str,
    *,
    lead_ms: int = 1000,
    trail_ms: int = 1000,
    rate: int = 16_000,
    using: Engine = "piper",
) -> Utterance:
    speech = speak(text, using=using, rate=rate)
    start, end = speech_bounds(speech, rate)
    lead = bytes(2 * (rate * lead_ms // 1000))
    trail = bytes(2 * (rate * trail_ms // 1000))
    return Utterance(text, lead + speech + trail, rate, lead_ms + start, lead_ms + end)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing transcripts."""
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()
