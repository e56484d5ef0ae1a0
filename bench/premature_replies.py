"""Premature replies: how often ``semantic_vad`` ends a turn in a mid-sentence thinking pause.

Each utterance of the committed set (``bench/pause_clips.py``: 14 sentences
cut after a preposition, an article, a conjunction, in a number, in a list or
after a subordinate clause, each with a pause of 300, 400, 500 and 600 ms) is
streamed over a real WebSocket to an in-process ``serve --engine local``
server (Silero VAD, Whisper base, SmolLM2, Piper; speculative replies on, as
shipped) in 20 ms chunks at real-time pace, then silence. The session uses
``semantic_vad`` with its default eagerness (``auto``).

A reply is **premature** when the server ends the turn inside the pause:
an ``input_audio_buffer.speech_stopped`` whose ``audio_end_ms`` lies before
the end of the pause (audio time, which the bench knows exactly: it sent every
sample), followed by ``response.created`` (with ``create_response`` on, each
ended turn gets one; the resumed speech then interrupts it). Once the turn
that ends after the whole utterance has stopped, its reply is cancelled (the
verdict is in) and the next utterance follows. The rate is reported per pause
length and overall; the goal is <= 5 %.

Run: ``.venv/bin/python bench/premature_replies.py`` (all 56 utterances;
``--quick``: the first 2 sentences at 300 and 600 ms, a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import defaultdict
from typing import Any

import this_tree  # noqa: F401  (this checkout's src, last on sys.path)
from pause_clips import PAUSES_MS, PauseClip, differences, make_clips

from rtagents import connect
from rtagents.cli.demo import session_config
from rtagents.protocol.audio import PCM_RATE

CHUNK_MS = 20
GOAL_RATE = 0.05
UTTERANCES_PER_SESSION = 4  # a fresh session after that, so history stays small
MAX_TAIL_MS = 6000  # silence after an utterance: the longest wait (unfinished, medium) is 4 s
REPLY_DONE_S = 30.0


class Turn:
    """What the server said about one utterance (audio times relative to the session)."""

    def __init__(self, offset_ms: float) -> None:
        self.offset_ms = offset_ms  # where the utterance's first sample sits in audio time
        self.stops: list[float] = []  # audio_end_ms of each speech_stopped
        self.early_responses = 0  # responses to a turn that stopped inside the pause
        self.ended = asyncio.Event()  # a turn stopped after the whole utterance
        self.final_response: str | None = None  # the reply to that turn


async def stream_one(session: Any, clip: PauseClip, sent_ms: float) -> tuple[Turn, float]:
    """Speak ``clip`` at real-time pace then silence until its whole turn stopped; returns it."""
    turn = Turn(sent_ms)
    pause_end = sent_ms + clip.pause_end_ms
    done = asyncio.Event()

    async def listen() -> None:
        async for event in session:
            kind = getattr(event, "type", "")
            if kind == "input_audio_buffer.speech_stopped":
                turn.stops.append(float(event.audio_end_ms))
                if event.audio_end_ms >= pause_end:
                    turn.ended.set()
            elif kind == "response.created" and turn.stops:
                if turn.ended.is_set():
                    turn.final_response = event.response.id
                else:
                    turn.early_responses += 1
            elif kind == "response.done" and event.response.id == turn.final_response:
                done.set()

    step = PCM_RATE * CHUNK_MS // 1000
    pcm16 = clip.pcm16
    chunks = -(-len(pcm16) // (step * 2)) + MAX_TAIL_MS // CHUNK_MS
    listener = asyncio.create_task(listen())
    began = time.perf_counter()
    try:
        for index in range(chunks):
            chunk = pcm16[index * step * 2 : (index + 1) * step * 2]
            chunk += bytes(step * 2 - len(chunk))
            await asyncio.sleep(
                max(0.0, began + (index + 1) * CHUNK_MS / 1000 - time.perf_counter())
            )
            await session.append_audio(chunk)
            sent_ms += CHUNK_MS
            if turn.final_response is not None:
                break
        if turn.final_response is not None:
            await session.cancel_response()  # the verdict is in; the reply is not measured
            await asyncio.wait_for(done.wait(), REPLY_DONE_S)
    except TimeoutError:
        pass
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    return turn, sent_ms


def premature(turn: Turn, clip: PauseClip) -> bool:
    """The turn was ended (and answered) before the pause was over."""
    pause_end = turn.offset_ms + clip.pause_end_ms
    return any(stop < pause_end for stop in turn.stops) and turn.early_responses > 0


async def main(args: argparse.Namespace) -> int:
    from rtagents.engines.local.factory import local_engines
    from rtagents.engines.warmup import WarmUp, close_engines
    from rtagents.server.config import ServerConfig
    from rtagents.server.serving import running_server

    clips = await make_clips(pauses=args.pauses, limit=args.sentences)
    wrong = differences(clips)
    if wrong:
        print(f"clips differ from bench/pause_manifest.json: {', '.join(wrong)}")
        return 2
    engines = local_engines(llm_url=args.llm_url)
    config = session_config()
    config["audio"]["input"]["turn_detection"] = {"type": "semantic_vad"}  # default eagerness
    results: list[tuple[PauseClip, bool, Turn]] = []
    try:
        await WarmUp(engines, progress=lambda line: print(f"  {line}", flush=True)).wait()
        async with running_server(ServerConfig(port=0), engines) as server:
            for first in range(0, len(clips), UTTERANCES_PER_SESSION):
                async with connect(server.ws_url, credentials=server.api_key) as session:
                    await session.update_session(config)
                    sent_ms = 0.0
                    for clip in clips[first : first + UTTERANCES_PER_SESSION]:
                        turn, sent_ms = await stream_one(session, clip, sent_ms)
                        early = premature(turn, clip)
                        results.append((clip, early, turn))
                        stops = ", ".join(f"{s - turn.offset_ms:.0f}" for s in turn.stops)
                        print(
                            f"  {clip.pause_ms} ms {clip.kind:<12} "
                            f"{'PREMATURE' if early else 'ok       '} pause "
                            f"{clip.pause_at_ms:.0f}-{clip.pause_end_ms:.0f} ms, "
                            f"speech_stopped at {stops or 'none'} ms  {clip.before!r}",
                            flush=True,
                        )
    finally:
        await close_engines(engines)
    return report(results, args.machine)


def report(results: list[tuple[PauseClip, bool, Turn]], machine: str) -> int:
    by_pause: dict[int, list[bool]] = defaultdict(list)
    for clip, early, _ in results:
        by_pause[clip.pause_ms].append(early)
    print(f"\npremature replies, semantic_vad (default eagerness); {machine}")
    for pause_ms in sorted(by_pause):
        flags = by_pause[pause_ms]
        print(f"  pause {pause_ms} ms: {sum(flags)}/{len(flags)} premature")
    total = [early for _, early, _ in results]
    unended = sum(1 for _, _, turn in results if not turn.ended.is_set())
    rate = sum(total) / max(len(total), 1)
    verdict = "met" if rate <= GOAL_RATE else "MISSED"
    print(f"  overall: {sum(total)}/{len(total)} premature ({rate:.1%}); goal <= 5 %: {verdict}")
    print(f"  utterances whose whole turn never stopped: {unended}")
    return 0 if total else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-url", default=None)
    parser.add_argument("--machine", default="this machine")
    parser.add_argument("--quick", action="store_true", help="2 sentences at 300 and 600 ms")
    args = parser.parse_args()
    args.pauses, args.sentences = ((300, 600), 2) if args.quick else (PAUSES_MS, None)
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
