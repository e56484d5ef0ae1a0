"""What ``audio.input.noise_reduction`` does to transcripts and to turn detection.

Speech: sentences spoken by the packaged Piper voice (24 kHz, as the server
buffers it), with 0.5 s of quiet before and 0.7 s after, mixed with seeded
noise at a given SNR (speech RMS over its voiced part against the noise RMS):
white (hiss), pink (1/f: fans, air), hum (50 Hz and harmonics plus a little
hiss) and a non-stationary one (pink noise switching level every 50-400 ms,
like a café or traffic). Each mix goes through the server's
:class:`StreamingDenoiser` in 20 ms chunks exactly as appends would, then
Whisper (as the server runs it): word error rate without noise reduction,
with ``near_field`` and with ``far_field``.

False turns: 20 s of each noise alone, as loud as the speech (0 dB) and
10 dB louder, plus "babble" (four of the sentences played backwards at once,
over and over: speech-like, but nobody talking to the agent), go through
the server's turn detection (Silero VAD and the ``server_vad`` defaults:
threshold 0.5, 500 ms silence) with and without the denoiser;
every ``speech_started`` there is a turn nobody spoke.

Also reported: the denoiser's time per 20 ms chunk (median, p99).

Run: ``.venv/bin/python bench/noise_reduction.py`` (``--quick``: fewer clips;
``--false-turns``: only the false-turn table and the timing)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import numpy as np
from speech_clips import spoken, wer

from rtagents.engines.local.silero_vad import SileroVAD
from rtagents.engines.local.whisper_stt import WhisperSTT
from rtagents.protocol.audio import PCM_RATE, resample_pcm16
from rtagents.server.local.noise_reduction import LIBRARY, StreamingDenoiser
from rtagents.server.local.turn_detection import SpeechStarted, TurnDetector, TurnSettings

SENTENCES = [
    "What time does the pharmacy close today?",
    "Please turn the lights off in the kitchen.",
    "I would like to order a large pizza with mushrooms.",
    "Can you read me the weather for tomorrow morning?",
    "Send a message to my sister that I am running late.",
    "How many kilometers is it from here to the station?",
]
SNRS_DB = (10, 5, 0)
CHUNK = PCM_RATE * 20 // 1000  # samples per 20 ms append
SETTINGS: list[str | None] = [None, "near_field", "far_field"]


def noise(kind: str, samples: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Unit-RMS noise of ``kind``."""
    if kind == "white":
        out = rng.standard_normal(samples)
    elif kind in ("pink", "bursty"):
        spectrum = np.fft.rfft(rng.standard_normal(samples))
        freqs = np.fft.rfftfreq(samples, 1 / PCM_RATE)
        spectrum[1:] /= np.sqrt(freqs[1:])
        spectrum[0] = 0
        out = np.fft.irfft(spectrum, samples)
        if kind == "bursty":
            level = np.ones(samples)
            at = 0
            while at < samples:
                span = int(rng.uniform(0.05, 0.4) * PCM_RATE)
                level[at : at + span] = rng.choice([0.2, 0.5, 1.0, 2.0])
                at += span
            out *= level
    else:  # hum: mains at 50 Hz with harmonics, plus faint hiss
        t = np.arange(samples) / PCM_RATE
        out = sum(np.sin(2 * np.pi * 50 * k * t + k) / k for k in range(1, 8))
        out = out + 0.1 * rng.standard_normal(samples)
    return np.asarray(out / np.sqrt(np.mean(out**2)), dtype=np.float64)


def babble(clips: list[bytes], samples: int) -> np.ndarray[Any, Any]:
    """Unit-RMS overlay of the clips played backwards, each looped from its own offset."""
    out = np.zeros(samples)
    for n, clip in enumerate(clips):
        voice = to_float(clip)[::-1]
        looped = np.tile(voice, samples // len(voice) + 2)
        start = n * len(voice) // len(clips)
        out += looped[start : start + samples]
    return out / np.sqrt(np.mean(out**2))


def to_float(pcm16: bytes) -> np.ndarray[Any, Any]:
    return np.frombuffer(pcm16, dtype="<i2").astype(np.float64) / 32768


def to_pcm16(x: np.ndarray[Any, Any]) -> bytes:
    return (np.clip(x, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()


def mix(speech: bytes, kind: str, snr_db: float, rng: np.random.Generator) -> bytes:
    voice = to_float(speech)
    voiced = voice[np.abs(voice) > 0.01]
    speech_rms = np.sqrt(np.mean(voiced**2))
    padded = np.concatenate([np.zeros(PCM_RATE // 2), voice, np.zeros(PCM_RATE * 7 // 10)])
    scaled = noise(kind, len(padded), rng) * speech_rms / 10 ** (snr_db / 20)
    return to_pcm16(padded + scaled)


def denoised(pcm16: bytes, setting: str | None, chunk_ms: list[float]) -> bytes:
    if setting is None:
        return pcm16
    denoiser = StreamingDenoiser(setting)  # type: ignore[arg-type]
    out = []
    for start in range(0, len(pcm16), CHUNK * 2):
        begin = time.perf_counter()
        out.append(denoiser.process(pcm16[start : start + CHUNK * 2]))
        chunk_ms.append((time.perf_counter() - begin) * 1000)
    return b"".join(out)


def false_turns(pcm16: bytes, vad: SileroVAD) -> int:
    stream = vad.new_stream()
    detector = TurnDetector(TurnSettings.from_wire({"type": "server_vad"}))  # type: ignore[arg-type]
    audio = resample_pcm16(pcm16, PCM_RATE, stream.sample_rate)
    step = stream.sample_rate * 2 // 50  # 20 ms of pcm16
    starts = 0
    for at in range(0, len(audio), step):
        events = detector.feed(stream.score(audio[at : at + step]))
        starts += sum(isinstance(e, SpeechStarted) for e in events)
    return starts


async def run(quick: bool, only_false_turns: bool) -> None:
    LIBRARY.load_now()
    sentences = SENTENCES[:3] if quick else SENTENCES
    clips = await spoken(SENTENCES, rate=PCM_RATE)
    vad = SileroVAD()
    vad.load()
    kinds = ["white", "pink", "hum", "bursty"]
    chunk_ms: list[float] = []
    if not only_false_turns:
        await word_errors(clips, sentences, kinds, chunk_ms)
    false_turn_table(clips, sentences, kinds, vad, chunk_ms)
    p99 = float(np.percentile(chunk_ms, 99))
    print(
        f"\nDenoiser per 20 ms chunk: median {statistics.median(chunk_ms):.2f} ms, "
        f"p99 {p99:.2f} ms over {len(chunk_ms)} chunks"
    )


async def word_errors(
    clips: dict[str, bytes], sentences: list[str], kinds: list[str], chunk_ms: list[float]
) -> None:
    stt = WhisperSTT()
    stt.load()
    print(f"{len(sentences)} sentences per cell; WER without / near_field / far_field\n")
    print("| noise | SNR | off | near_field | far_field |")
    print("|---|---:|---:|---:|---:|")
    totals: dict[str | None, list[tuple[str, str]]] = {s: [] for s in SETTINGS}
    for kind in kinds:
        for snr in SNRS_DB:
            rng = np.random.default_rng(snr * 100 + kinds.index(kind))
            mixes = {text: mix(clips[text], kind, snr, rng) for text in sentences}
            cells = []
            for setting in SETTINGS:
                pairs = []
                for text, pcm in mixes.items():
                    clean = denoised(pcm, setting, chunk_ms)
                    heard = await stt.transcribe(
                        resample_pcm16(clean, PCM_RATE, 16_000), language="en"
                    )
                    pairs.append((text, heard.text))
                totals[setting] += pairs
                cells.append(f"{wer(pairs):.1%}")
            print(f"| {kind} | {snr} dB | " + " | ".join(cells) + " |")
    print("| all | | " + " | ".join(f"{wer(totals[s]):.1%}" for s in SETTINGS) + " |")
    stt.close()


def false_turn_table(
    clips: dict[str, bytes],
    sentences: list[str],
    kinds: list[str],
    vad: SileroVAD,
    chunk_ms: list[float],
) -> None:
    print("\nFalse turns (speech_started) in 20 s of noise alone:\n")
    print("| noise | level | off | near_field | far_field |")
    print("|---|---|---:|---:|---:|")
    voice = to_float(clips[sentences[0]])
    speech_rms = np.sqrt(np.mean(voice[np.abs(voice) > 0.01] ** 2))
    for kind in kinds:
        for snr in (0, -10):
            rng = np.random.default_rng(7 + kinds.index(kind))
            alone = to_pcm16(noise(kind, PCM_RATE * 20, rng) * speech_rms / 10 ** (snr / 20))
            counts = [false_turns(denoised(alone, s, chunk_ms), vad) for s in SETTINGS]
            level = "speech level" if snr == 0 else f"{-snr} dB above"
            print(f"| {kind} | {level} | " + " | ".join(map(str, counts)) + " |")
    others = [clips[text] for text in SENTENCES[-4:]]
    for snr in (10, 0):
        alone = to_pcm16(babble(others, PCM_RATE * 20) * speech_rms / 10 ** (snr / 20))
        counts = [false_turns(denoised(alone, s, chunk_ms), vad) for s in SETTINGS]
        level = "speech level" if snr == 0 else "10 dB below speech"
        print(f"| babble | {level} | " + " | ".join(map(str, counts)) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three sentences per cell")
    parser.add_argument("--false-turns", action="store_true", help="only the false turns")
    args = parser.parse_args()
    asyncio.run(run(args.quick, args.false_turns))
