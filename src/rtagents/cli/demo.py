"""``rtagents demo``: a spoken conversation with the offline voice pipeline.

It warms the embedded engines (Silero VAD, Whisper, SmolLM2, Piper) showing
progress, starts a server in-process on a loopback port, mints an ephemeral
secret with the server's API key (as an app backend would), connects with it
over a real WebSocket, and turns on server VAD with input transcription. Each
question is synthesised to speech and streamed in 20 ms chunks at real-time
pace, followed by silence, exactly as a microphone would deliver it; the
server detects the end of speech, transcribes, answers and speaks. The report
shows what was heard, the reply, where the reply's WAV was written, and where
the time went: end of speech -> transcript final -> first LLM token -> first
audio. ``--engine scripted`` runs the same lifecycle on the tone-coded test
engine (no models, about a second).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..protocol.audio import PCM_RATE
from .demo_engines import DemoVoice, demo_engines

QUESTIONS = (
    "What is the capital city of France?",
    "Can you name three colors of the rainbow?",
)
INSTRUCTIONS = "You are a concise, friendly voice assistant. Answer in one short sentence."


def session_config(voice: str = "marin") -> dict[str, Any]:
    """Audio in and out at pcm16 24 kHz, server VAD that answers, transcription on."""
    pcm = {"type": "audio/pcm", "rate": PCM_RATE}
    return {
        "type": "realtime",
        "instructions": INSTRUCTIONS,
        "output_modalities": ["audio"],
        "max_output_tokens": 120,
        "audio": {
            "input": {
                "format": pcm,
                "transcription": {"model": "whisper-1"},
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": 500,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": pcm, "voice": voice},
        },
    }


@dataclass
class TurnReport:
    question: str
    heard: str
    reply: str
    status: str
    wav: str
    reply_audio_ms: float
    # ms after the server decided the user stopped speaking (speech_stopped)
    transcript_final_ms: float | None
    first_token_ms: float | None
    first_audio_ms: float | None
    errors: list[str]


async def run_conversation(engine: str, out_dir: Path, llm_url: str | None) -> list[TurnReport]:
    """Warm up, serve, mint, connect, configure, speak each question, close."""
    from .. import connect, mint_client_secret
    from ..engines.warmup import WarmUp, close_engines
    from ..server.config import ServerConfig
    from ..server.serving import running_server

    engines, voice = demo_engines(engine, llm_url=llm_url)
    try:
        print(f"rtagents demo: warming up the {engines.name} engines", flush=True)
        await WarmUp(engines, progress=lambda line: print(f"  {line}", flush=True)).wait()
        async with running_server(ServerConfig(port=0), engines) as server:

            async def credentials() -> str:
                secret = await mint_client_secret(server.http_url, server.api_key)
                return secret.value

            config = session_config()
            async with connect(server.ws_url, credentials=credentials, session=config) as session:
                return [
                    await _turn(session, server, voice, question, out_dir / f"turn-{n}-reply.wav")
                    for n, question in enumerate(QUESTIONS, 1)
                ]
    finally:
        await close_engines(engines)


async def _turn(
    session: Any, server: Any, voice: DemoVoice, question: str, wav_path: Path
) -> TurnReport:
    from ..testing.spoken import server_latencies, spoken_turn

    speech = await voice.speak(question)
    turn = await spoken_turn(session, speech)
    _write_wav(wav_path, bytes(turn.reply_audio))
    marks = server_latencies(server.app, session.session_id)
    return TurnReport(
        question=question,
        heard=turn.transcript,
        reply=turn.reply.strip(),
        status=turn.status,
        wav=str(wav_path),
        reply_audio_ms=len(turn.reply_audio) / 48,
        transcript_final_ms=turn.timing.since_speech_stopped("transcript_final"),
        first_token_ms=marks.get("first_token_ms"),
        first_audio_ms=turn.timing.since_speech_stopped("first_audio"),
        errors=turn.errors,
    )


def _write_wav(path: Path, pcm16: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(PCM_RATE)
        out.writeframes(pcm16)


def _ms(value: float | None) -> str:
    return f"{value:6.0f} ms" if value is not None else "     n/a"


def _print_report(engine: str, turns: list[TurnReport]) -> None:
    print(f"\nrtagents demo: spoken turns over a real WebSocket ({engine} engines)\n")
    for index, turn in enumerate(turns, 1):
        print(f"turn {index}  status={turn.status}")
        print(f"  asked:     {turn.question}")
        print(f"  heard:     {turn.heard}")
        print(f"  assistant: {turn.reply}")
        print(f"  reply wav: {turn.wav} ({turn.reply_audio_ms / 1000:.1f} s)")
        print("  latency after end of speech (speech_stopped):")
        print(f"    transcript final  {_ms(turn.transcript_final_ms)}")
        print(f"    first LLM token   {_ms(turn.first_token_ms)}")
        print(f"    first audio       {_ms(turn.first_audio_ms)}")
        for error in turn.errors:
            print(f"  error:     {error}")
        print()


def run_demo(args: argparse.Namespace) -> int:
    from ..observability.event_log import configure_logging
    from .serve import require_local_packages

    configure_logging(args.log_format, args.log_level)
    require_local_packages(args.engine, args.llm_url)
    turns = asyncio.run(run_conversation(args.engine, Path(args.out), args.llm_url))
    if args.json:
        print(json.dumps([asdict(t) for t in turns], indent=2))
    else:
        _print_report(args.engine, turns)
    failed = [t for t in turns if t.status != "completed" or not t.reply or not t.heard]
    if failed:
        print(f"rtagents demo: {len(failed)} turn(s) did not complete", file=sys.stderr)
        return 1
    return 0
