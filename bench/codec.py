"""Codec throughput against two baselines, measured in one run.

For each payload it times ``rtagents.protocol.codec.decode_server_event`` (parse
*and* validate) against

- ``openai``'s ``AsyncRealtimeConnection.parse_event`` (``json.loads`` +
  unchecked construction, no validation), and
- openai-agents' validating path, the parser a user of ``agents.realtime``
  runs on every server event: ``json.loads``, then the same steps as
  ``OpenAIRealtimeWebSocketModel._handle_ws_event`` (``previous_item_id``
  patch, custom-voice normalisation) and its module-level discriminated
  ``TypeAdapter`` (``get_server_event_type_adapter().validate_python``).

Each payload is a ``str``, as a WebSocket text frame reaches both stacks. The
three parsers run interleaved in short windows (the machine may be shared), and
each keeps its best window. It prints events/s, both ratios and whether each
goal is met, and times ``import rtagents`` in fresh interpreters.

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
from pathlib import Path
from typing import Any

# Goals against openai's unchecked parse_event, then against openai-agents' validating path.
GOALS = {"audio delta": 30.0, "session.updated": 3.0, "response.done": None, "unknown type": 20.0}
AGENTS_GOALS = {
    "audio delta": 4.0,
    "session.updated": 4.0,
    "response.done": None,
    "unknown type": 1.5,
}
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


Parser = Callable[[str], object]


def batch_size(fn: Parser, frame: str, window: float) -> int:
    """Calls of ``fn`` that take about ``window`` seconds (after one warm-up call)."""
    fn(frame)  # warm caches (adapter build, lazy imports) outside the timing
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn(frame)
        elapsed = time.perf_counter() - start
        if elapsed >= window / 4:
            return max(1, int(n * window / max(elapsed, 1e-9)))
        n *= 2


def rates(
    parsers: dict[str, Parser], frame: str, *, window: float, rounds: int
) -> dict[str, float]:
    """Best events/s of each parser over ``rounds`` interleaved windows of ~``window`` s.

    Short windows taken in turn give every parser the same chances on a machine
    other work shares: a window that another process preempted is simply not
    the best one, for either side.
    """
    batches = {name: batch_size(fn, frame, window) for name, fn in parsers.items()}
    best = dict.fromkeys(parsers, 0.0)
    for _ in range(rounds):
        for name, fn in parsers.items():
            n = batches[name]
            start = time.perf_counter()
            for _ in range(n):
                fn(frame)
            best[name] = max(best[name], n / (time.perf_counter() - start))
    return best


def openai_parser() -> Parser:
    """The official SDK's ``parse_event``: ``json.loads`` + unchecked construction."""
    from openai.resources.realtime.realtime import AsyncRealtimeConnection

    def openai_parse(frame: str) -> object:
        # parse_event never touches ``self``; calling it unbound avoids opening a socket.
        return AsyncRealtimeConnection.parse_event(None, frame)  # type: ignore[arg-type]

    return openai_parse


def agents_parser() -> Parser:
    """openai-agents' validating path, as ``OpenAIRealtimeWebSocketModel`` runs it per frame.

    ``_listen_for_messages`` does ``json.loads``; ``_handle_ws_event`` patches a
    null ``previous_item_id``, normalises custom voices on session/response
    events and validates with the module's discriminated adapter, catching a
    ``ValidationError`` (an unknown type ends there). Only the emitting of
    events to listeners is left out.
    """
    here = str(Path(__file__).resolve().parent)
    # This script's folder holds bench/agents.py, which would shadow the package.
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here]
    from agents.realtime import openai_realtime as oar
    from pydantic import ValidationError

    adapter = oar.get_server_event_type_adapter()
    needs_voice_fix = oar._should_normalize_custom_voice_for_server_event
    fix_voice = oar._normalize_custom_voice_for_server_event_validation

    def agents_parse(frame: str) -> object:
        event = json.loads(frame)
        if "previous_item_id" in event and event["previous_item_id"] is None:
            event = {**event, "previous_item_id": ""}
        event = fix_voice(event) if needs_voice_fix(event) else event
        try:
            return adapter.validate_python(event)
        except ValidationError as exc:
            return exc

    return agents_parse


def verdict(ratio: float, goal: float | None) -> str:
    if goal is None:
        return "-"
    return f">= {goal:g}x " + ("ok" if ratio >= goal else "MISSED")


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
    parser.add_argument("--rounds", type=int, default=200, help="interleaved windows per parser")
    args = parser.parse_args()
    window, rounds = (0.002, 3) if args.quick else (0.005, args.rounds)

    from rtagents.protocol.codec import UnknownEvent, decode_server_event

    parsers = {
        "rtagents": decode_server_event,
        "openai": openai_parser(),
        "agents": agents_parser(),
    }
    print(f"window {window * 1000:g} ms, best of {rounds} interleaved windows per parser")
    print(
        f"{'payload':<16} {'bytes':>7} {'rtagents ev/s':>14} {'openai ev/s':>12} {'ratio':>7}"
        f" {'agents ev/s':>12} {'ratio':>7}  goal vs openai / vs openai-agents"
    )
    failed = False
    frames = {name: raw.decode() for name, raw in payloads().items()}
    for name, frame in frames.items():
        best = rates(parsers, frame, window=window, rounds=rounds)
        ours, vs_openai, vs_agents = best["rtagents"], best["openai"], best["agents"]
        ratio, agents_ratio = ours / vs_openai, ours / vs_agents
        goal, agents_goal = GOALS[name], AGENTS_GOALS[name]
        failed |= goal is not None and ratio < goal
        failed |= agents_goal is not None and agents_ratio < agents_goal
        print(
            f"{name:<16} {len(frame):>7} {ours:>14,.0f} {vs_openai:>12,.0f} {ratio:>6.2f}x"
            f" {vs_agents:>12,.0f} {agents_ratio:>6.2f}x  {verdict(ratio, goal)}"
            f" / {verdict(agents_ratio, agents_goal)}"
        )
    unknown = frames["unknown type"]
    decoded = decode_server_event(unknown)
    print(
        f"unknown type -> rtagents: {type(decoded).__name__}; "
        f"openai: {type(parsers['openai'](unknown)).__name__}; "
        f"openai-agents: {type(parsers['agents'](unknown)).__name__}"
    )
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
