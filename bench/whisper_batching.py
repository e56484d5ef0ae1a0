"""Does batching Whisper calls help voices waiting at once? Throughput against each caller's wait.

Issue 15, goal 2 asks for "Whisper batching where it helps". Several sessions'
turn-end transcriptions can be queued at once (bench/voices.py), and
CTranslate2 encodes and decodes a batch in one call. This measures, on this
machine, N clips (Piper speech, 16 kHz, the 10 s encoder window WhisperSTT
uses for short turns, greedy decoding, 2 threads) transcribed one after the
other against as one batch:

- throughput: the time for all N;
- what callers feel: the mean time until each caller's transcript is ready.
  One after the other, the first caller's is ready after one call; in a batch,
  every caller waits for the whole batch.

The texts must match between the two ways (printed), so the batch is the same
work. Run: ``.venv/bin/python bench/whisper_batching.py`` (``--repeats``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import numpy as np

from rtagents.engines.local.piper_tts import PiperTTS
from rtagents.engines.local.whisper_stt import _FRAMES_PER_S, WhisperSTT
from rtagents.protocol.audio import pcm16_to_float32, resample_pcm16

QUESTIONS = (
    "What is the capital of France?",
    "Tell me a short joke about cats please.",
    "How far away is the moon from the earth?",
    "Can you recommend a good book to read?",
)
WINDOW_S = 10  # the window WhisperSTT picks for clips up to 9.5 s
MAX_TOKENS = 80


async def spoken() -> list[np.ndarray[Any, Any]]:
    tts = PiperTTS(variation=0)
    clips = []
    for text in QUESTIONS:
        pcm = b"".join([piece async for piece in tts.synthesize(text, voice="alloy")])
        clips.append(pcm16_to_float32(resample_pcm16(pcm, 24_000, 16_000)))
    return clips


class Batcher:
    """WhisperSTT's model, called the way ``_transcribe_window`` calls it, N clips at once."""

    def __init__(self, clips: list[np.ndarray[Any, Any]]) -> None:
        self.stt = WhisperSTT(cpu_threads=2)
        self.stt.load()
        self.model: Any = self.stt._model  # the bench reaches in: it measures the engine itself
        self.tokenizer, self.suppressed = self.stt._tokenizer(self.model, "en")
        self.prompt = [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]
        self.features = [self._features(clip) for clip in clips]

    def _features(self, clip: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        frames = WINDOW_S * _FRAMES_PER_S
        mel = self.model.feature_extractor(clip)[:, :frames]
        padded = np.zeros((mel.shape[0], frames), dtype=np.float32)
        padded[:, : mel.shape[1]] = mel
        return padded

    def transcribe(self, indexes: list[int]) -> list[str]:
        import ctranslate2

        batch = np.stack([self.features[i] for i in indexes])
        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(batch))
        results = self.model.model.generate(
            encoded,
            [self.prompt] * len(indexes),
            beam_size=1,
            max_length=MAX_TOKENS,
            suppress_blank=True,
            suppress_tokens=self.suppressed,
        )
        eot = self.tokenizer.eot
        return [
            self.tokenizer.decode([t for t in r.sequences_ids[0] if t < eot]).strip()
            for r in results
        ]


def one_after_the_other(batcher: Batcher, n: int) -> tuple[float, float, list[str]]:
    """(time for all, mean time until each is ready, texts)."""
    start, ready, texts = time.perf_counter(), [], []
    for i in range(n):
        texts += batcher.transcribe([i])
        ready.append(time.perf_counter() - start)
    return ready[-1], statistics.mean(ready), texts


def as_one_batch(batcher: Batcher, n: int) -> tuple[float, float, list[str]]:
    start = time.perf_counter()
    texts = batcher.transcribe(list(range(n)))
    elapsed = time.perf_counter() - start
    return elapsed, elapsed, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="best of this many, each way")
    args = parser.parse_args()
    batcher = Batcher(asyncio.run(spoken()))
    batcher.transcribe([0])  # warm
    print(
        "| clips | one after the other: all / mean ready ms | one batch ms | throughput | "
        "mean wait |"
    )
    print("|---:|---:|---:|---:|---:|")
    for n in (2, len(QUESTIONS)):
        runs = {"seq": [], "batch": []}  # type: dict[str, list[tuple[float, float, list[str]]]]
        for _ in range(args.repeats):  # alternating, so both meet the same machine
            runs["seq"].append(one_after_the_other(batcher, n))
            runs["batch"].append(as_one_batch(batcher, n))
        seq = min(runs["seq"])
        batch = min(runs["batch"])
        if seq[2] != batch[2]:
            print(f"  the texts differ: {seq[2]} against {batch[2]}")
        print(
            f"| {n} | {seq[0] * 1000:.0f} / {seq[1] * 1000:.0f} | {batch[0] * 1000:.0f} | "
            f"{seq[0] / batch[0]:.2f}x | {batch[1] / seq[1]:.2f}x longer |"
        )
    print(f"texts: {min(runs['batch'])[2]}")


if __name__ == "__main__":
    main()
