"""``rtagents demo``: the whole lifecycle, offline, over a real WebSocket.

It starts a server in-process on a loopback port, mints an ephemeral secret
with the server's API key (as an app backend would), connects with that secret,
configures the session, then runs three turns: text, audio with a manual
commit, and a function-call round trip. It prints the transcript and per-turn
timings. The model is the scripted engine until the local voice engine lands.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
SESSION: dict[str, Any] = {
    "type": "realtime",
    "instructions": "You are a concise, friendly voice assistant.",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": {"model": "whisper-1"},
            "turn_detection": None,
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
    },
    "tools": [WEATHER_TOOL],
    "tool_choice": "auto",
}
CHUNK_MS = 100


@dataclass
class Turn:
    kind: str
    user: str
    assistant: str = ""
    tool_calls: list[str] = field(default_factory=list)
    first_delta_ms: float | None = None
    done_ms: float = 0.0
    audio_ms: float = 0.0
    status: str = ""


def get_weather(city: str) -> dict[str, Any]:
    """The demo's local tool: a real function the client runs, not the server."""
    return {"city": city, "forecast": "sunny", "celsius": 21}


async def _run_response(session: Any, turn: Turn, started: float) -> Any:
    """Consume events until ``response.done``; fill in timings and text."""
    async for event in session:
        etype = getattr(event, "type", "")
        elapsed = (time.perf_counter() - started) * 1000
        if etype in ("response.output_audio.delta", "response.output_text.delta"):
            if turn.first_delta_ms is None:
                turn.first_delta_ms = elapsed
        elif etype == "conversation.item.input_audio_transcription.completed":
            turn.user = event.transcript
        elif etype == "error":
            raise RuntimeError(f"server error: {event.error.message}")
        elif etype == "response.done":
            turn.done_ms = elapsed
            turn.status = event.response.status or ""
            return event.response
    raise RuntimeError("the session closed before the response finished")


def _reply_text(response: Any, session: Any) -> tuple[str, float]:
    texts, audio_ms = [], 0.0
    for item in response.output or []:
        if item.type == "message":
            texts.append(session.conversation.transcript(item.id))
            audio_ms += session.conversation.audio_ms(item.id)
    return " ".join(t for t in texts if t), audio_ms


async def _text_turn(session: Any, text: str) -> Turn:
    turn = Turn(kind="text", user=text)
    started = time.perf_counter()
    await session.send_text(text)
    await session.create_response()
    response = await _run_response(session, turn, started)
    turn.assistant, turn.audio_ms = _reply_text(response, session)
    return turn


async def _audio_turn(session: Any, text: str) -> Turn:
    from ..engines.scripted import scripted_speech
    from ..protocol.audio import PCM16_24K

    turn = Turn(kind="audio", user=f"({text!r} as speech)")
    speech = scripted_speech(text)
    step = PCM16_24K.bytes_for_ms(CHUNK_MS)
    for offset in range(0, len(speech), step):
        await session.append_audio(speech[offset : offset + step])
    started = time.perf_counter()  # timings count from the commit (end of speech)
    await session.commit_audio()
    await session.create_response()
    response = await _run_response(session, turn, started)
    turn.assistant, turn.audio_ms = _reply_text(response, session)
    return turn


async def _tool_turn(session: Any, text: str) -> Turn:
    turn = Turn(kind="tool", user=text)
    started = time.perf_counter()
    await session.send_text(text)
    await session.create_response()
    response = await _run_response(session, turn, started)
    for item in response.output or []:
        if item.type == "function_call":
            result = get_weather(**json.loads(item.arguments or "{}"))
            turn.tool_calls.append(f"{item.name}({item.arguments}) -> {json.dumps(result)}")
            await session.create_item(
                {
                    "type": "function_call_output",
                    "call_id": item.call_id,
                    "output": json.dumps(result),
                }
            )
    await session.create_response()
    response = await _run_response(session, turn, started)
    turn.assistant, turn.audio_ms = _reply_text(response, session)
    return turn


async def run_lifecycle() -> list[Turn]:
    """Server up -> mint -> connect -> configure -> three turns -> close."""
    from .. import connect, mint_client_secret
    from ..engines.scripted import CallTool, Rule, scripted_engines
    from ..server.config import ServerConfig
    from ..server.runner import running_server

    rules = [
        Rule(when=re.compile(r"\bweather\b", re.I), then=CallTool("get_weather", {"city": "Paris"}))
    ]
    async with running_server(ServerConfig(port=0), scripted_engines(rules)) as server:

        async def credentials() -> str:
            secret = await mint_client_secret(server.http_url, server.api_key, session=SESSION)
            return secret.value

        async with connect(server.ws_url, credentials=credentials, model="gpt-realtime") as session:
            await session.update_session(SESSION)
            return [
                await _text_turn(session, "Hello there, who am I talking to?"),
                await _audio_turn(session, "what time is it"),
                await _tool_turn(session, "What is the weather in Paris?"),
            ]


def _print_report(turns: list[Turn]) -> None:
    print("rtagents demo: offline lifecycle over a real WebSocket (scripted model)\n")
    for index, turn in enumerate(turns, 1):
        print(f"turn {index} [{turn.kind}]  status={turn.status}")
        print(f"  user:      {turn.user}")
        for call in turn.tool_calls:
            print(f"  tool:      {call}")
        print(f"  assistant: {turn.assistant}")
        first = f"{turn.first_delta_ms:.1f} ms" if turn.first_delta_ms is not None else "n/a"
        print(
            f"  timings:   first delta {first}, response.done {turn.done_ms:.1f} ms, "
            f"reply audio {turn.audio_ms:.0f} ms\n"
        )


def run_demo(args: argparse.Namespace) -> int:
    from ..observability.logging import configure_logging

    configure_logging(args.log_format, args.log_level)
    turns = asyncio.run(run_lifecycle())
    if args.json:
        print(json.dumps([asdict(t) for t in turns], indent=2))
    else:
        _print_report(turns)
    failed = [t for t in turns if t.status != "completed" or not t.assistant]
    if failed:
        print(f"rtagents demo: {len(failed)} turn(s) did not complete", file=sys.stderr)
        return 1
    return 0
