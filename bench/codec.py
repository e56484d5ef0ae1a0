"""Codec throughput against the official SDK's parser, measured in one run.

For each payload it times ``rtagents.protocol.codec.decode_server_event`` (parse
*and* validate, from raw bytes) and ``openai``'s
``AsyncRealtimeConnection.parse_event`` (``json.loads`` + unchecked
construction, no validation), best of several rounds, and prints events/s and
the ratio. It also times ``import rtagents`` in fresh interpreters.

Run: ``.venv/bin/python bench/codec.py`` (``--quick`` for a short smoke run).
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

GOALS = {"audio delta": 30.0, "session.updated": 3.0, "response.done": None, "unknown type": 20.0}
IMPORT_GOAL_MS = 150.0


def payloads() -> dict[str, bytes]:
    audio = base64.b64encode(bytes(range(256)) * 12).decode()  # 3072 bytes -> 4 KB base64
    tools = [
        {
            "type": "function",
            "name": f"tool_{i}",
            "description": "Look up something useful for the caller " * 3,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        }
        for i in range(6)
    ]
    session = {
        "type": "realtime",
        "id": "sess_123",
        "object": "realtime.session",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "instructions": "You are a helpful voice assistant. " * 10,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper-1"},
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "marin",
                "speed": 1,
            },
        },
        "tools": tools,
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
    }
    response = {
        "id": "resp_1",
        "object": "realtime.response",
        "status": "completed",
        "status_details": None,
        "conversation_id": "conv_1",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
        "output": [
            {
                "id": "item_2",
                "type": "message",
                "object": "realtime.item",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_audio", "transcript": "Sure, it is sunny. " * 5}],
            }
        ],
        "usage": {
            "total_tokens": 300,
            "input_tokens": 200,
            "output_tokens": 100,
            "input_token_details": {"text_tokens": 150, "audio_tokens": 50, "cached_tokens": 0},
            "output_token_details": {"text_tokens": 30, "audio_tokens": 70},
        },
        "metadata": None,
    }
    events: dict[str, dict[str, Any]] = {
        "audio delta": {
            "type": "response.output_audio.delta",
            "event_id": "event_1",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "content_index": 0,
            "delta": audio,
        },
        "session.updated": {"type": "session.updated", "event_id": "event_2", "session": session},
        "response.done": {"type": "response.done", "event_id": "event_3", "response": response},
        "unknown type": {
            "type": "response.future_feature.delta",
            "event_id": "event_4",
            "payload": {"nested": [1, 2, 3], "text": "something new"},
        },
    }
    return {name: json.dumps(event).encode() for name, event in events.items()}


def rate(fn: Callable[[bytes], object], raw: bytes, *, seconds: float, rounds: int) -> float:
    """Best events/s over ``rounds`` timed windows of about ``seconds`` each."""
    fn(raw)  # warm caches (adapter build, lazy imports) outside the timing
    n = 1
    while True:  # calibrate a batch size that takes ~seconds
        start = time.perf_counter()
        for _ in range(n):
            fn(raw)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 4:
            break
        n *= 2
    batch = max(1, int(n * seconds / max(elapsed, 1e-9)))
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(batch):
            fn(raw)
        best = max(best, batch / (time.perf_counter() - start))
    return best


def import_time_ms(runs: int) -> float:
    """Median wall time of ``import rtagents`` in a fresh interpreter, minus bare start-up."""
    code = "import time; t=time.perf_counter(); import rtagents; print(time.perf_counter()-t)"
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows (smoke test)")
    args = parser.parse_args()
    seconds, rounds = (0.05, 2) if args.quick else (0.5, 5)

    from openai.resources.realtime.realtime import AsyncRealtimeConnection

    from rtagents.protocol.codec import UnknownEvent, decode_server_event

    def openai_parse(raw: bytes) -> object:
        # parse_event never touches ``self``; calling it unbound avoids opening a socket.
        return AsyncRealtimeConnection.parse_event(None, raw)  # type: ignore[arg-type]

    print(
        f"{'payload':<16} {'bytes':>7} {'rtagents ev/s':>14} {'openai ev/s':>12} {'ratio':>7}  goal"
    )
    failed = False
    for name, raw in payloads().items():
        ours = rate(decode_server_event, raw, seconds=seconds, rounds=rounds)
        theirs = rate(openai_parse, raw, seconds=seconds, rounds=rounds)
        ratio = ours / theirs
        goal = GOALS[name]
        verdict = (
            "" if goal is None else (f">= {goal:.0f}x " + ("ok" if ratio >= goal else "MISSED"))
        )
        failed |= goal is not None and ratio < goal
        print(f"{name:<16} {len(raw):>7} {ours:>14,.0f} {theirs:>12,.0f} {ratio:>6.1f}x  {verdict}")
    decoded = decode_server_event(payloads()["unknown type"])
    wrongly = type(openai_parse(payloads()["unknown type"])).__name__
    print(f"unknown type -> rtagents: {type(decoded).__name__}; openai: {wrongly}")
    assert isinstance(decoded, UnknownEvent)

    ms = import_time_ms(3 if args.quick else 7)
    ok = ms <= IMPORT_GOAL_MS
    failed |= not ok
    print(
        f"import rtagents: {ms:.1f} ms (goal <= {IMPORT_GOAL_MS:.0f} ms) {'ok' if ok else 'MISSED'}"
    )
    return 1 if failed and not args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
