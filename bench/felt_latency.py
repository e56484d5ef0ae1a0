"""Felt latency: the last voiced sample -> first reply audio, with and without speculative replies.

A caller stops speaking, then waits: for the VAD to notice (its lag), for the
``server_vad`` silence window (500 ms here) and for the reply's first audio.
``bench/voice_latency.py`` starts its clock at ``speech_stopped`` and so hides
the first two; this bench starts it where the speech really ends.

Each turn is a question spoken by the packaged Piper voice (no sampling noise,
resampled to 24 kHz), streamed over a real WebSocket to an in-process
``serve --engine local`` server in 20 ms chunks at real-time pace, followed by
silence until the reply is done. The end of speech is found in the clip
itself: the last sample whose magnitude reaches :data:`VOICING_FRACTION` of the
clip's peak. A chunk is sent the moment its last sample would have left a
microphone, so the last voiced sample was spoken at the send time of its
chunk minus the samples after it in that chunk. The clock stops at the first
``response.output_audio.delta``; ``speech_stopped`` splits it into the wait
for the end of the turn and the reply after it.

The two arms alternate in one run on one server, in ABBA order so both get
every position in a session: speculative replies on (the shipped default,
``server/local/speculation.py``) and off (the same server without them), so
they share the machine's load.

With ``--turn-detection semantic_vad`` (default eagerness, ``auto`` = medium)
the turn ends when the words say it is complete instead (a question ends
after 300 ms of silence, see ``docs/turn_detection.md``); the clock is the
same, and the goal is a p50 of 450 ms.

Run: ``.venv/bin/python bench/felt_latency.py`` (``--turns 20`` per arm;
``--quick`` for 2; ``--turn-detection semantic_vad``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from typing import Any

import numpy as np
import this_tree  # noqa: F401  (this checkout's src, last on sys.path)
from voice_latency import QUESTIONS  # (bench/: the same ten questions)

from rtagents import connect
from rtagents.cli.demo import session_config
from rtagents.protocol.audio import PCM_RATE
from rtagents.server.local.speculation import Speculation

SILENCE_MS = 500
CHUNK_MS = 20
VOICING_FRACTION = 0.02  # of the clip's peak magnitude: Piper's tail is far below it
GOAL_P50_MS = {"server_vad": 600.0, "semantic_vad": 450.0}
TURNS_PER_SESSION = 4  # a fresh session after that, so history stays conversation-sized
MAX_TAIL_S = 20.0  # silence sent after the speech while waiting for the reply


def last_voiced_sample(pcm16: bytes) -> int:
    """Index of the last sample at or above the voicing threshold (computed from the clip)."""
    samples = np.abs(np.frombuffer(pcm16, dtype=np.int16).astype(np.int32))
    threshold = max(1, int(samples.max() * VOICING_FRACTION))
    return int(np.flatnonzero(samples >= threshold)[-1])


def abba(turn: int) -> bool:
    """Whether turn ``turn`` speculates: on, off, off, on, then off, on, on, off, ...

    Both arms get every position in a session equally often (the first turn of a
    session has a colder prompt cache than the ones after it).
    """
    return (turn % 4 in (0, 3)) != (turn // 4 % 2 == 1)


def percentile(values: list[float], q: float) -> float:
    """The value at index round(q/100 * (n-1)) of the sorted values (ValueError if none)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def spoken_clips() -> list[bytes]:
    from speech_clips import spoken

    clips = await spoken(list(QUESTIONS), rate=PCM_RATE)
    return [clips[q] for q in QUESTIONS]


async def one_turn(session: Any, pcm16: bytes) -> dict[str, Any]:
    """Speak ``pcm16`` at real-time pace, then silence until the reply is done.

    The marks: perf_counter times of the last voiced sample, ``speech_stopped``
    and the first audio; the reply's status (and reason); what the server
    heard and what it said (``heard``, ``reply``).
    """
    marks: dict[str, Any] = {"heard": "", "reply": ""}
    done = asyncio.Event()

    async def listen() -> None:
        async for event in session:
            kind = getattr(event, "type", "")
            if kind == "input_audio_buffer.speech_stopped":
                marks.setdefault("speech_stopped", time.perf_counter())
            elif kind == "response.output_audio.delta":
                marks.setdefault("first_audio", time.perf_counter())
            elif kind == "conversation.item.input_audio_transcription.completed":
                marks["heard"] = event.transcript
            elif kind == "response.output_audio_transcript.done":
                marks["reply"] = event.transcript
            elif kind == "response.done":
                marks["status"] = event.response.status
                details = event.response.status_details
                marks["reason"] = getattr(details, "reason", None) if details else None
                done.set()
                return

    step = PCM_RATE * CHUNK_MS // 1000  # samples a chunk
    voiced = last_voiced_sample(pcm16)
    voiced_chunk = voiced // step
    listener = asyncio.create_task(listen())
    began = time.perf_counter()
    index = 0
    try:
        while (
            not done.is_set() and index * CHUNK_MS / 1000 < len(pcm16) / 2 / PCM_RATE + MAX_TAIL_S
        ):
            chunk = pcm16[index * step * 2 : (index + 1) * step * 2]
            chunk += bytes(step * 2 - len(chunk))
            deadline = began + (index + 1) * CHUNK_MS / 1000
            await asyncio.sleep(max(0.0, deadline - time.perf_counter()))  # the mic fills it
            await session.append_audio(chunk)
            if index == voiced_chunk:
                after = (voiced_chunk + 1) * step - 1 - voiced  # samples after it in the chunk
                marks["last_voiced"] = time.perf_counter() - after / PCM_RATE
            index += 1
        await asyncio.wait_for(done.wait(), 30)
    except TimeoutError:
        marks["status"] = "timed out"
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    return marks


def delta(marks: dict[str, Any], a: str, b: str) -> float | None:
    if a not in marks or b not in marks:
        return None
    return float((marks[b] - marks[a]) * 1000)


def summarize(label: str, rows: list[dict[str, Any]]) -> float | None:
    ok = [r for r in rows if r.get("status") == "completed" and "first_audio" in r]
    print(f"\n{label}: {len(ok)}/{len(rows)} turns completed with audio")
    if not ok:
        return None
    for name, a, b in (
        ("last voiced -> first audio", "last_voiced", "first_audio"),
        ("  last voiced -> speech_stopped", "last_voiced", "speech_stopped"),
        ("  speech_stopped -> first audio", "speech_stopped", "first_audio"),
    ):
        values = [v for r in ok if (v := delta(r, a, b)) is not None]
        print(
            f"  {name:<32} p50 {percentile(values, 50):6.0f} ms   "
            f"p95 {percentile(values, 95):6.0f} ms"
        )
    return percentile([d for r in ok if (d := delta(r, "last_voiced", "first_audio"))], 50)


class HeldReplies(logging.Handler):
    """Counts what became of the server's held replies (speculation.py logs it at debug)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.outcomes: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "prepared" in message or "request" in message:
            print(f"    {message}", flush=True)
            return
        self.outcomes[message.split(": ")[-1].split(" ")[-1]] += 1


async def main(args: argparse.Namespace) -> int:
    from rtagents.engines.local.factory import local_engines
    from rtagents.engines.warmup import WarmUp, close_engines
    from rtagents.server.config import ServerConfig
    from rtagents.server.serving import running_server

    engines = local_engines(
        llm_url=args.llm_url,
        llm_threads=args.llm_threads,
        llm_slots=args.llm_slots,
        engine_threads=0 if args.no_cpu_gate else None,
    )
    config = session_config()
    config["audio"]["input"]["turn_detection"] = turn_detection(args.turn_detection)
    arms: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    held = HeldReplies()
    speculation_log = logging.getLogger("rtagents.server.speculation")
    speculation_log.addHandler(held)
    speculation_log.setLevel(logging.DEBUG)
    try:
        await WarmUp(engines, progress=lambda line: print(f"  {line}", flush=True)).wait()
        clips = await spoken_clips()
        async with running_server(ServerConfig(port=0), engines) as server:
            turn = 0
            while turn < 2 * args.turns:
                async with connect(server.ws_url, credentials=server.api_key) as session:
                    await session.update_session(config)
                    for _ in range(min(TURNS_PER_SESSION, 2 * args.turns - turn)):
                        speculative = abba(turn)
                        Speculation.enabled = speculative
                        marks = await one_turn(session, clips[(turn // 2) % len(clips)])
                        arms[speculative].append(marks)
                        felt = delta(marks, "last_voiced", "first_audio")
                        print(
                            f"  turn {turn:>2} speculation {'on ' if speculative else 'off'}: "
                            f"{marks.get('status')}, felt {felt or 0:.0f} ms, "
                            f"held replies so far {dict(held.outcomes)}",
                            flush=True,
                        )
                        turn += 1
                        await asyncio.sleep(0.3)  # the reply's tail leaves the loop
    finally:
        Speculation.enabled = True
        await close_engines(engines)
    mode = args.turn_detection
    setting = f"silence {SILENCE_MS} ms" if mode == "server_vad" else "default eagerness"
    print(f"\nfelt latency, {args.turns} turns per arm, {mode}, {setting}; {args.machine}")
    before = summarize("speculative replies off", arms[False])
    after = summarize("speculative replies on (default)", arms[True])
    print(f"  held replies at the confirmed turns: {dict(held.outcomes)}")
    if before is not None and after is not None:
        goal = GOAL_P50_MS[mode]
        verdict = "met" if after <= goal else "MISSED"
        print(
            f"\np50 off/on: {before / after:.2f}x; goal ({mode}) p50 <= {goal:.0f} ms "
            f"from the last voiced sample: {verdict}"
        )
    return 0 if after is not None else 1


def turn_detection(mode: str) -> dict[str, Any]:
    """The session's ``turn_detection``: server_vad with the bench's silence, or semantic_vad."""
    if mode == "semantic_vad":
        return {"type": "semantic_vad"}  # eagerness left to its default (auto = medium)
    return {"type": "server_vad", "silence_duration_ms": SILENCE_MS}


def add_setup_options(parser: argparse.ArgumentParser) -> None:
    """The engines, turn detection and machine label, shared with bench/voices.py."""
    parser.add_argument("--llm-url", default=None)
    parser.add_argument(
        "--llm-threads", type=int, default=None, help="embedded LLM threads (default: the server's)"
    )
    parser.add_argument(
        "--llm-slots", type=int, default=1, help="embedded LLM requests batched at once"
    )
    parser.add_argument("--machine", default="this machine")
    parser.add_argument(
        "--no-cpu-gate",
        action="store_true",
        help="Whisper and the TTS each on their own threads, unqueued (engines/local/cpu_gate.py)",
    )
    parser.add_argument(
        "--turn-detection", choices=("server_vad", "semantic_vad"), default="server_vad"
    )


def add_turn_options(parser: argparse.ArgumentParser, per: str) -> None:
    """``--turns`` (20) per ``per``, and ``--quick`` for 2: see :func:`parsed_turns`."""
    parser.add_argument("--turns", type=int, default=20, help=f"turns per {per}")
    parser.add_argument("--quick", action="store_true", help=f"2 turns per {per}")


def parsed_turns(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The parsed arguments, with ``--quick`` applied to ``--turns``."""
    args = parser.parse_args()
    if args.quick:
        args.turns = 2
    return args


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_turn_options(parser, "arm")
    add_setup_options(parser)
    return parsed_turns(parser)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
