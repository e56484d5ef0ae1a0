"""Per-call cost of the embedded audio engines, and what loading each one costs.

Speech is synthesized in the run (Piper and espeak-ng), resampled to 16 kHz
and fed to Whisper twice: with the short encoder window WhisperSTT picks for
short clips, and with the fixed 30 s window (faster-whisper's own behaviour),
so the speed-up and any accuracy change are measured side by side. Each
engine's load time and resident memory are measured in a fresh interpreter.

Run: ``.venv/bin/python bench/local_engines.py`` (``--quick``: fewer repeats).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import time

from rtagents.engines.local.espeak_tts import EspeakTTS
from rtagents.engines.local.piper_tts import PiperTTS
from rtagents.engines.local.silero_vad import WINDOW, SileroVAD
from rtagents.engines.local.whisper_stt import WhisperSTT
from rtagents.protocol.audio import resample_pcm16

SENTENCES = (
    "Hello there.",
    "What time is it?",
    "Please book a table for two.",
    "The weather today is sunny and warm.",
    "Can you tell me how to get to the train station from here?",
    "I would like to order a large pizza with mushrooms and extra cheese, please.",
    "My flight leaves tomorrow morning, so I need a taxi to the airport before breakfast.",
    "Could you remind me to call my sister when I get home from work this evening?",
)

LOADERS = {
    "SileroVAD": "from rtagents.engines.local.silero_vad import SileroVAD as E; e = E()",
    "WhisperSTT": "from rtagents.engines.local.whisper_stt import WhisperSTT as E; e = E()",
    "PiperTTS": "from rtagents.engines.local.piper_tts import PiperTTS as E; e = E()",
    "EspeakTTS": "from rtagents.engines.local.espeak_tts import EspeakTTS as E; e = E()",
}
RSS_PROBE = """
import asyncio, time
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'):
            return int(line.split()[1]) / 1024
{setup}
before = rss(); t = time.perf_counter(); e.load(); loaded = time.perf_counter() - t
asyncio.run(e.warm_up())
print(f"{{loaded:.2f}} {{before:.0f}} {{rss():.0f}}")
"""


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


async def speak(tts: PiperTTS | EspeakTTS, text: str) -> bytes:
    pcm = b"".join([c async for c in tts.synthesize(text, voice="alloy")])
    return resample_pcm16(pcm, tts.sample_rate, 16_000)


async def bench_whisper(clips: dict[str, bytes], repeats: int) -> None:
    print("\nWhisperSTT per call (int8, cpu_threads=2, beam 1, language='en'), median ms")
    print(f"{'audio s':>8} {'window':>7} {'30 s window':>12}  words ok (short/30 s)  text")
    short, full = WhisperSTT(language="en"), WhisperSTT(language="en", min_window_s=30)
    await short.warm_up()
    await full.warm_up()
    for text, pcm in clips.items():
        row = []
        for engine in (short, full):
            times, result = [], ""
            for _ in range(repeats):
                start = time.perf_counter()
                result = (await engine.transcribe(pcm)).text
                times.append(time.perf_counter() - start)
            row.append((statistics.median(times) * 1000, words(result) == words(text)))
        print(
            f"{len(pcm) / 32000:8.1f} {row[0][0]:7.0f} {row[1][0]:12.0f}  "
            f"{row[0][1]!s:>8}/{row[1][1]!s:<6}  {text[:44]}"
        )
    short.close()
    full.close()


async def bench_tts(name: str, tts: PiperTTS | EspeakTTS, repeats: int) -> None:
    await tts.warm_up()
    firsts, per_clause, rtf = [], [], []
    for _ in range(repeats):
        for text in SENTENCES:
            start = time.perf_counter()
            chunks, stamps = [], []
            async for chunk in tts.synthesize(text, voice="alloy"):
                chunks.append(chunk)
                stamps.append(time.perf_counter())
            elapsed = time.perf_counter() - start
            firsts.append(stamps[0] - start)
            per_clause.append(elapsed / len(chunks))
            rtf.append(elapsed / (sum(map(len, chunks)) / 48_000))
    print(
        f"{name:10} first chunk {statistics.median(firsts) * 1000:6.1f} ms, "
        f"per clause {statistics.median(per_clause) * 1000:6.1f} ms, "
        f"real-time factor {statistics.median(rtf):.3f}"
    )


def bench_vad(clip: bytes) -> None:
    vad = SileroVAD()
    vad.load()
    start = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        vad.reset()
        windows = len(vad.score(clip))
    per_window = (time.perf_counter() - start) / (rounds * windows) * 1e6
    print(f"SileroVAD  {per_window:.0f} us per {WINDOW}-sample window (32 ms of audio)")


def bench_memory() -> None:
    print("\nLoad time and resident memory (fresh interpreter each)")
    for name, setup in LOADERS.items():
        code = RSS_PROBE.format(setup=setup)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode:
            print(f"{name:10} failed: {out.stderr.strip().splitlines()[-1]}")
            continue
        loaded, before, after = out.stdout.split()
        print(
            f"{name:10} load {loaded} s, RSS {before} -> {after} MB (+{int(after) - int(before)})"
        )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    repeats = 1 if parser.parse_args().quick else 3
    piper, espeak = PiperTTS(), EspeakTTS()
    clips = {text: await speak(piper, text) for text in SENTENCES}
    print("TTS (voice alloy, 24 kHz out), median over the sentences")
    await bench_tts("PiperTTS", piper, repeats)
    await bench_tts("EspeakTTS", espeak, repeats)
    bench_vad(b"".join(clips.values()))
    await bench_whisper(clips, repeats)
    espeak_clips = {text: await speak(espeak, text) for text in SENTENCES[2:5]}
    print("(espeak-ng voice)")
    await bench_whisper(espeak_clips, repeats)
    bench_memory()


if __name__ == "__main__":
    asyncio.run(main())
