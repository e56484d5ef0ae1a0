"""The word error rate bench's clip set, made the same way on every run.

Nothing here is a recording: every clip is synthesised on the spot by the
packaged engines (Piper's ``en_US-joe-medium`` without its sampling noise, so
the same text is the same audio; espeak-ng with two of its variants) at
several speeds, some with white noise added at a fixed seed and signal to
noise ratio. No Python package here ships usable real speech recordings
(scipy's test WAVs are tones), so the set has none.

Short clips are single sentences. Long clips are runs of the *same* sentences
spoken in one go (about 30 s, 60 s and 120 s), so a long turn's word error
rate can be compared with that of the same words in short clips.

``bench/wer_manifest.json`` is committed: each clip's condition, text, word
count, length, number of 16 kHz pcm16 samples, loudness contour and the
sha256 of the samples on the machine that wrote it. ``bench/wer.py`` checks
every clip against it before transcribing, so a figure always belongs to the
committed set (a different onnxruntime build may render different samples;
the check then says which clips differ). Piper clips must match to the bit,
or on a CPU that rounds Piper's floats otherwise, have the same number of
samples and the same contour (``bench/clip_contour.py``). espeak-ng does
not render the same text to the same samples twice (its Klatt variants add
random flutter and timing; seeding libc's ``rand`` or ``espeak_ng_SetRandSeed``
does not fix it), so its clips are held to their length (within 2 %) instead,
and their figures move a little between runs.

Run: ``.venv/bin/python bench/wer_clips.py --write`` (re)writes the manifest;
``--check`` only compares; ``--wav DIR`` also saves the clips as WAV files.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from clip_contour import as_text, contour, same_contour

from rtagents.engines.base import TTS
from rtagents.engines.local.espeak_tts import EspeakTTS
from rtagents.engines.local.piper_tts import PiperTTS
from rtagents.protocol.audio import resample_pcm16

RATE = 16_000  # what the STT engine takes; the server resamples 24 kHz input to it
MANIFEST = Path(__file__).with_name("wer_manifest.json")

# Everyday requests and statements written for this bench; numbers are spelled
# out as a person would say them (the normaliser spells Whisper's digits out).
SENTENCES = (
    "What is the capital of France?",
    "Please book a table for two at eight tonight.",
    "The weather today is sunny and warm with a light breeze.",
    "Can you tell me how to get to the train station from here?",
    "My flight leaves tomorrow morning, so I need a taxi before breakfast.",
    "Remind me to call my sister when I get home from work.",
    "How many days are left until the end of the month?",
    "Turn off the lights in the kitchen and lock the back door.",
    "I would like to order a large pizza with mushrooms and olives.",
    "The meeting was moved to Thursday afternoon at three.",
    "Send a message to Peter saying I will be twenty minutes late.",
    "What is the best way to keep bread fresh for a week?",
    "Our neighbours are painting their fence a bright shade of blue.",
    "Set a timer for fifteen minutes while the pasta cooks.",
    "The library closes early on Sundays during the summer.",
    "Could you read me the last three emails from my manager?",
    "A small boat drifted slowly across the quiet lake at dawn.",
    "Add milk, eggs and a bag of apples to the shopping list.",
    "Which platform does the next train to the airport leave from?",
    "She plays the piano every evening after dinner.",
    "The children built a tall tower out of wooden blocks.",
    "How much water should I drink on a hot day?",
    "Please move my dentist appointment to next Monday.",
    "The museum has a new exhibition about ancient maps.",
    "Tell me a short story about a clever fox and a crow.",
    "We planted tomatoes, beans and carrots in the garden this spring.",
    "Is there a pharmacy open near the hotel tonight?",
    "The old bridge over the river was repaired last year.",
    "Turn the music down a little and play something calm.",
    "Thank you, that was exactly what I needed to know.",
    "The bakery on the corner sells warm rolls until noon.",
    "Write down that the plumber is coming on Friday at ten.",
    "My phone battery runs out far too quickly these days.",
    "Do you know a good place to go hiking near the coast?",
    "The cat slept all afternoon in a patch of sunlight.",
    "Please find a recipe for soup that uses leeks and potatoes.",
    "How long does it take to drive from here to the mountains?",
    "The train was delayed because of a fallen tree on the track.",
    "I need to return these shoes because they are too small.",
    "Open the window in the bedroom for some fresh air.",
    "Our team finished the project two weeks ahead of schedule.",
    "What time does the swimming pool open on Saturday mornings?",
)
# How many of the sentences each long clip speaks in one go (about 30, 60 and
# 120 s with Piper at speed 1; the manifest has each clip's exact length).
LONG = {"long30": 11, "long60": 21, "long120": 42}


@dataclass(frozen=True)
class Condition:
    """One way of speaking: engine, GA voice (see engines/local/voices.py), speed, noise."""

    name: str
    engine: str  # "piper" or "espeak"
    voice: str
    speed: float
    snr_db: float | None = None  # white noise at this speech-to-noise ratio; None = clean
    seed: int = 0
    long: bool = False  # also speak the long clips this way


CONDITIONS = (
    Condition("piper/alloy/1.0", "piper", "alloy", 1.0, long=True),
    Condition("piper/coral/1.2", "piper", "coral", 1.2),
    Condition("piper/cedar/0.85", "piper", "cedar", 0.85),
    Condition("piper/alloy/1.0+noise10dB", "piper", "alloy", 1.0, snr_db=10, seed=1, long=True),
    Condition("espeak/alloy/1.0", "espeak", "alloy", 1.0, long=True),
    Condition("espeak/coral/1.25", "espeak", "coral", 1.25),
    Condition("espeak/alloy/1.0+noise15dB", "espeak", "alloy", 1.0, snr_db=15, seed=2),
)


@dataclass(frozen=True)
class Clip:
    """One clip: its name, condition, what was said, and the samples (pcm16, 16 kHz)."""

    name: str
    condition: Condition
    text: str
    sentences: tuple[int, ...]  # indexes into SENTENCES
    pcm16: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm16) / 2 / RATE

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pcm16).hexdigest()


def add_noise(pcm16: bytes, snr_db: float, seed: int) -> bytes:
    """White noise at ``snr_db`` below the speech's power (measured where it is voiced)."""
    speech = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    voiced = speech[np.abs(speech) > 0.01 * 32768]
    power = float(np.mean(voiced**2)) if len(voiced) else 1.0
    noise = np.random.default_rng(seed).normal(
        0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(speech)
    )
    return np.clip(np.round(speech + noise), -32768, 32767).astype("<i2").tobytes()


async def _speak(tts: TTS, text: str, condition: Condition) -> bytes:
    chunks = [c async for c in tts.synthesize(text, voice=condition.voice, speed=condition.speed)]
    pcm = resample_pcm16(b"".join(chunks), tts.sample_rate, RATE)
    if condition.snr_db is not None:
        pcm = add_noise(pcm, condition.snr_db, condition.seed)
    return pcm


async def make_clips(
    conditions: tuple[Condition, ...] = CONDITIONS, *, sentences: int | None = None
) -> list[Clip]:
    """The clips of the set in manifest order (with ``sentences``: that many, no long ones)."""
    engines: dict[str, TTS] = {"piper": PiperTTS(variation=0.0), "espeak": EspeakTTS()}
    clips = []
    for condition in conditions:
        tts = engines[condition.engine]
        for index, text in enumerate(SENTENCES[:sentences]):
            pcm = await _speak(tts, text, condition)
            clips.append(Clip(f"{condition.name}/s{index:02d}", condition, text, (index,), pcm))
        if condition.long and sentences is None:
            for name, count in LONG.items():
                text = " ".join(SENTENCES[:count])
                pcm = await _speak(tts, text, condition)
                indexes = tuple(range(count))
                clips.append(Clip(f"{condition.name}/{name}", condition, text, indexes, pcm))
    return clips


def manifest(clips: list[Clip]) -> dict[str, object]:
    from speech_clips import words

    return {
        "rate": RATE,
        "format": "pcm16 mono little-endian; sha256 over the samples (bit-exact on the "
        "CPU that wrote this); contour: dBFS per 100 ms (bench/clip_contour.py)",
        "conditions": [vars(c) for c in CONDITIONS],
        "clips": [
            {
                "name": c.name,
                "condition": c.condition.name,
                "text": c.text,
                "words": len(words(c.text)),
                "seconds": round(c.seconds, 2),
                "samples": len(c.pcm16) // 2,
                "sha256": c.sha256,
                "contour": as_text(contour(c.pcm16, RATE)),
            }
            for c in clips
        ],
    }


def differences(clips: list[Clip], *, subset: bool = False) -> list[str]:
    """Names of clips that differ from the committed manifest (or are missing).

    With ``subset`` only the clips made are compared (a quick run makes a few).
    """
    committed = {c["name"]: c for c in json.loads(MANIFEST.read_text())["clips"]}
    made = {c.name: c for c in clips}
    names = made.keys() if subset else committed.keys() | made.keys()
    return sorted(
        n for n in names if n not in committed or n not in made or not _same(made[n], committed[n])
    )


def _same(clip: Clip, entry: dict[str, Any]) -> bool:
    if clip.name.startswith("espeak/"):  # never the same samples twice: its length
        return abs(clip.seconds - entry["seconds"]) <= 0.02 * entry["seconds"]
    if entry["sha256"] == clip.sha256:
        return True
    return entry["samples"] == len(clip.pcm16) // 2 and same_contour(
        contour(clip.pcm16, RATE), entry["contour"]
    )


def save_wav(clip: Clip, folder: Path) -> None:
    path = folder / (clip.name.replace("/", "_") + ".wav")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(clip.pcm16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the committed manifest")
    parser.add_argument("--check", action="store_true", help="compare with the manifest")
    parser.add_argument("--wav", type=Path, help="also save every clip as a WAV file here")
    args = parser.parse_args()
    clips = asyncio.run(make_clips())
    if args.write:
        MANIFEST.write_text(json.dumps(manifest(clips), indent=1) + "\n")
    if args.wav:
        args.wav.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            save_wav(clip, args.wav)
    for clip in clips:
        if clip.name.endswith(tuple(LONG)):
            print(f"{clip.name}: {clip.seconds:.1f} s, {len(clip.text.split())} words")
    print(f"{len(clips)} clips, {sum(c.seconds for c in clips):.0f} s of audio")
    if args.check:
        wrong = differences(clips)
        print("all clips match the manifest" if not wrong else f"differ: {', '.join(wrong)}")


if __name__ == "__main__":
    main()
