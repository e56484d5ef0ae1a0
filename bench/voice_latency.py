"""Voice latency: end of speech -> first reply audio, with the local pipeline.

Each turn is a question synthesised with Piper and streamed over a real
WebSocket in 20 ms chunks at real-time pace, then silence, into a server
running the embedded engines with ``server_vad``. The clock starts when the
client receives ``input_audio_buffer.speech_stopped`` (the server's decision
that the user stopped) and stops at the first ``response.output_audio.delta``.
The breakdown adds the server's own marks (transcript final, first LLM token;
same process, same clock).

Baseline, measured in the same run on the same engines and utterances: the
plain sequential pipeline a first implementation writes - after the end of
speech, transcribe the whole utterance, then stream the LLM until its first
clause, then synthesise that clause (no speculative transcription, no
overlap). It is timed directly on the engines, with no server or socket, so
it is the baseline's best case.

Run: ``.venv/bin/python bench/voice_latency.py`` (``--turns 20 --concurrent 4``
by default; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

import this_tree  # noqa: F401  (this checkout's src, last on sys.path)

from rtagents import connect
from rtagents.cli.demo import session_config
from rtagents.engines.base import ChatMessage, Engines, LLMRequest, TextDelta
from rtagents.protocol.audio import resample_pcm16
from rtagents.testing.spoken import server_latencies, spoken_turn

QUESTIONS = (
    "What is the capital of France?",
    "Can you name three colors of the rainbow?",
    "How many days are there in a week?",
    "What do bees make?",
    "Tell me something about the moon.",
    "Which animal says moo?",
    "What is two plus two?",
    "What season comes after winter?",
    "Where does the sun rise?",
    "What do you call a baby cat?",
)
GOAL_P50_MS = 700.0
TURNS_PER_SESSION = 5  # a fresh session after that, so history stays conversation-sized
CLAUSE_ENDS = ".!?;:,"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def synthesize_questions(engines: Engines) -> list[bytes]:
    from rtagents.engines.local.piper_tts import PiperTTS

    voice = PiperTTS(variation=0.0)
    out = []
    for question in QUESTIONS:
        out.append(b"".join([c async for c in voice.synthesize(question, voice="alloy")]))
    return out


async def session_turns(server: Any, speech: list[bytes], count: int, offset: int) -> list[dict]:
    """``count`` spoken turns, a new session every TURNS_PER_SESSION turns."""
    results: list[dict] = []
    while len(results) < count:
        async with connect(server.ws_url, credentials=server.api_key) as session:
            await session.update_session(session_config())
            for _ in range(min(TURNS_PER_SESSION, count - len(results))):
                pcm = speech[(offset + len(results)) % len(speech)]
                turn = await spoken_turn(session, pcm, timeout_s=120)
                marks = server_latencies(server.app, session.session_id)
                results.append(
                    {
                        "status": turn.status,
                        "first_audio": turn.timing.since_speech_stopped("first_audio"),
                        "transcript": marks.get("transcript_final_ms"),
                        "token": marks.get("first_token_ms"),
                        "errors": turn.errors,
                    }
                )
    return results


async def baseline_turn(engines: Engines, pcm24k: bytes) -> float:
    """Plain sequential pipeline after end of speech: STT, then LLM to a clause, then TTS."""
    assert engines.stt is not None
    started = time.perf_counter()
    audio = resample_pcm16(pcm24k, 24_000, engines.stt.sample_rate)
    heard = (await engines.stt.transcribe(audio)).text
    request = LLMRequest(
        instructions=session_config()["instructions"],
        messages=[ChatMessage(role="user", content=heard)],
        max_output_tokens=48,
    )
    clause = ""
    stream = engines.llm.stream(request)
    async for chunk in stream:
        if isinstance(chunk, TextDelta):
            clause += chunk.text
            if clause.rstrip() and clause.rstrip()[-1] in CLAUSE_ENDS:
                break
    await stream.aclose()  # type: ignore[attr-defined]
    speech = engines.tts.synthesize(clause or "OK.", voice="alloy")
    async for _first in speech:
        break
    await speech.aclose()  # type: ignore[attr-defined]
    return (time.perf_counter() - started) * 1000


def summarize(label: str, rows: list[dict]) -> float | None:
    ok = [r for r in rows if r["first_audio"] is not None and r["status"] == "completed"]
    print(f"\n{label}: {len(ok)}/{len(rows)} turns completed with audio")
    for row in rows:
        if row["errors"] or row["status"] != "completed":
            print(f"  turn problem: status={row['status']} errors={row['errors']}")
    if not ok:
        return None
    for name, key in (
        ("first audio", "first_audio"),
        ("transcript final", "transcript"),
        ("first LLM token", "token"),
    ):
        values = [r[key] for r in ok if r[key] is not None]
        if values:
            print(
                f"  {name:<17} p50 {percentile(values, 50):7.0f} ms   "
                f"p95 {percentile(values, 95):7.0f} ms"
            )
    return percentile([r["first_audio"] for r in ok], 50)


async def main(args: argparse.Namespace) -> int:
    from rtagents.engines.local.factory import local_engines
    from rtagents.engines.warmup import WarmUp, close_engines
    from rtagents.server.config import ServerConfig
    from rtagents.server.serving import running_server

    engines = local_engines(llm_url=args.llm_url)
    try:
        await WarmUp(engines, progress=lambda line: print(f"  {line}", flush=True)).wait()
        speech = await synthesize_questions(engines)
        baseline = [
            await baseline_turn(engines, speech[i % len(speech)]) for i in range(args.turns)
        ]
        async with running_server(ServerConfig(port=0), engines) as server:
            single = await session_turns(server, speech, args.turns, 0)
            per = max(1, args.turns // args.concurrent)
            groups = await asyncio.gather(
                *(session_turns(server, speech, per, k * 3) for k in range(args.concurrent))
            )
    finally:
        await close_engines(engines)
    print(f"\nvoice latency, {args.turns} turns; machine: {args.machine}")
    print(
        f"baseline (sequential STT -> LLM clause -> TTS): p50 {percentile(baseline, 50):7.0f} ms"
        f"   p95 {percentile(baseline, 95):7.0f} ms"
    )
    p50 = summarize("rtagents, 1 session (speech_stopped -> first audio delta)", single)
    summarize(f"rtagents, {args.concurrent} concurrent sessions", [r for g in groups for r in g])
    if p50 is not None:
        ratio = statistics.median(baseline) / p50
        verdict = "met" if p50 <= GOAL_P50_MS else "MISSED"
        print(
            f"\nratio baseline/rtagents p50: {ratio:.2f}x; "
            f"goal p50 <= {GOAL_P50_MS:.0f} ms: {verdict}"
        )
    return 0 if p50 is not None else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--llm-url", default=None)
    parser.add_argument("--machine", default="this machine")
    parser.add_argument("--quick", action="store_true", help="2 turns, 2 concurrent sessions")
    args = parser.parse_args()
    if args.quick:
        args.turns, args.concurrent = 2, 2
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
