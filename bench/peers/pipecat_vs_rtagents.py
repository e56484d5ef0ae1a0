"""A real peer: rtagents and pipecat-ai 1.14 on the same models, turns alternating in one run.

Both systems hear the same questions (bench/voice_latency.py's, spoken by the
packaged Piper voice without sampling noise) at real-time pace in 20 ms chunks,
then silence, and both wait for 500 ms of silence before they answer. The clock
runs from the last voiced sample of the clip (bench/felt_latency.py's
``last_voiced_sample``) to the first reply audio, in each system's own process.

- rtagents: an in-process ``serve --engine local`` server (speculative replies
  on, the default) over a real WebSocket, server_vad silence_duration_ms 500,
  the clip at 24 kHz (the API's pcm16 rate).
- pipecat: ``pipecat_worker.py`` in its own virtualenv (``make bench-peers``
  builds it from requirements-pipecat.txt), fed 16 kHz (its default input rate,
  and Silero's and Whisper's own): Silero VAD stop_secs 0.2 + a 0.3 s turn timer.

Same files and settings where both have them: Whisper base int8 on 2 threads,
beam 1; SmolLM2-135M Q4_1 on llama.cpp (xllamacpp) with rtagents' system
prompt, temperature, repeat penalty, max tokens and threads; Piper joe-medium.
Turns go A B B A, B A A B, ... (peer_turns.abba_order); a fresh conversation
every 4 turns of a system; one unmeasured warm-up turn each first.

Run: ``make bench-peers`` or
``.venv/bin/python bench/peers/pipecat_vs_rtagents.py --turns 20`` (``--quick``: 2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the peer's modules and bench/'s

import this_tree  # noqa: E402, F401  (this checkout's src, last on sys.path)
from felt_latency import (  # noqa: E402
    SILENCE_MS,
    TURNS_PER_SESSION,
    add_turn_options,
    last_voiced_sample,
    one_turn,
    parsed_turns,
)
from peer_turns import abba_order, p50_p90, verdict  # noqa: E402
from voice_latency import QUESTIONS  # noqa: E402

from rtagents import connect  # noqa: E402
from rtagents.cli.demo import session_config  # noqa: E402
from rtagents.protocol.audio import PCM_RATE  # noqa: E402

PEER_PYTHON = HERE.parents[1] / ".bench-peers" / "pipecat" / "bin" / "python"
PIPECAT_RATE = 16_000
VAD_STOP_SECS = 0.2  # pipecat's default Silero stop_secs (VAD_STOP_SECS in 1.14)
TURN_TIMER_SECS = 0.3  # SpeechTimeoutUserTurnStopStrategy: the rest of the 500 ms


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def rtagents_turn(session: Any, pcm16: bytes) -> dict[str, Any]:
    """felt_latency's turn, its marks as ms after the last voiced sample."""
    marks = await one_turn(session, pcm16)
    result = {"heard": marks["heard"], "reply": marks["reply"], "status": marks.get("status")}
    for name in ("speech_stopped", "first_audio"):
        if name in marks and "last_voiced" in marks:
            result[f"{name}_ms"] = round((marks[name] - marks["last_voiced"]) * 1000, 1)
    return result


class PipecatPeer:
    """The worker process in the peer virtualenv, one JSON line each way."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, settings: dict[str, Any]) -> PipecatPeer:
        if not PEER_PYTHON.exists():
            sys.exit(f"no peer virtualenv at {PEER_PYTHON.parents[1]}: run `make bench-peers`")
        argv = [str(PEER_PYTHON), str(HERE / "pipecat_worker.py")]
        for name, value in settings.items():
            argv += [f"--{name.replace('_', '-')}", str(value)]
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        peer = cls(process)
        ready = await peer.read()
        assert ready.get("ready"), ready
        return peer

    async def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 180)
        if not line:
            sys.exit(f"the pipecat worker exited ({await self.process.wait()}); see its stderr")
        return json.loads(line)

    async def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.read()

    async def close(self) -> None:
        with contextlib.suppress(OSError):  # the worker may have gone already
            assert self.process.stdin is not None
            self.process.stdin.write(b'{"quit": true}\n')
            await self.process.stdin.drain()
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        await self.process.wait()


def peer_settings() -> dict[str, Any]:
    """What the pipecat side must use to match rtagents' local engine, read from rtagents."""
    from rtagents.engines.local.embedded_llm import EmbeddedLLM, default_threads
    from rtagents.engines.local.factory import local_engines

    llm = inspect.signature(EmbeddedLLM.__init__).parameters
    config = session_config()
    return {
        "instructions": config["instructions"],
        "max_tokens": config["max_output_tokens"],
        "temperature": llm["temperature"].default,
        "repeat_penalty": llm["repeat_penalty"].default,
        "threads": default_threads(),  # what EmbeddedLLM runs with (half the usable cores)
        "stt_threads": inspect.signature(local_engines).parameters["stt_threads"].default,
        "stop_secs": VAD_STOP_SECS,
        "turn_timer_secs": TURN_TIMER_SECS,
        "rate": PIPECAT_RATE,
    }


async def clips(folder: Path) -> tuple[list[bytes], list[dict[str, Any]]]:
    """The questions at 24 kHz for rtagents, and as 16 kHz files for the worker."""
    from speech_clips import spoken

    at_24k = await spoken(list(QUESTIONS), rate=PCM_RATE)
    at_16k = await spoken(list(QUESTIONS), rate=PIPECAT_RATE)
    plays = []
    for index, question in enumerate(QUESTIONS):
        path = folder / f"q{index}.pcm"
        path.write_bytes(at_16k[question])
        plays.append({"play": str(path), "voiced": last_voiced_sample(at_16k[question])})
    return [at_24k[q] for q in QUESTIONS], plays


async def main(args: argparse.Namespace) -> int:
    from rtagents.engines.local.factory import local_engines
    from rtagents.engines.warmup import WarmUp, close_engines
    from rtagents.server.config import ServerConfig
    from rtagents.server.serving import running_server

    print(f"load average before: {load()}", flush=True)
    settings = peer_settings()
    config = session_config()
    config["audio"]["input"]["turn_detection"]["silence_duration_ms"] = SILENCE_MS
    engines = local_engines()
    rows: dict[str, list[dict[str, Any]]] = {"rtagents": [], "pipecat": []}
    with tempfile.TemporaryDirectory() as folder:
        speech, plays = await clips(Path(folder))
        peer = await PipecatPeer.start(settings)
        try:
            await WarmUp(engines).wait()
            async with running_server(ServerConfig(port=0), engines) as server:
                await run_turns(args, server, config, peer, speech, plays, rows)
        finally:
            await peer.close()
            await close_engines(engines)
    print(f"load average after: {load()}")
    return report(args, settings, rows)


async def run_turns(
    args: argparse.Namespace,
    server: Any,
    config: dict[str, Any],
    peer: PipecatPeer,
    speech: list[bytes],
    plays: list[dict[str, Any]],
    rows: dict[str, list[dict[str, Any]]],
) -> None:
    async with connect(server.ws_url, credentials=server.api_key) as warm:  # unmeasured
        await warm.update_session(config)
        print(f"  warm-up rtagents: {await rtagents_turn(warm, speech[0])}", flush=True)
    print(f"  warm-up pipecat: {await peer.ask(plays[0])}", flush=True)
    async with contextlib.AsyncExitStack() as stack:
        session: Any = None
        for turn, name in enumerate(abba_order(args.turns)):
            count = len(rows[name])
            question = count % len(QUESTIONS)
            if name == "rtagents":
                if count % TURNS_PER_SESSION == 0:
                    await stack.aclose()
                    session = await stack.enter_async_context(
                        connect(server.ws_url, credentials=server.api_key)
                    )
                    await session.update_session(config)
                row = await rtagents_turn(session, speech[question])
            else:
                if count % TURNS_PER_SESSION == 0:
                    await peer.ask({"reset": True})
                row = await peer.ask(plays[question])
            row["question"] = QUESTIONS[question]
            rows[name].append(row)
            print(
                f"  turn {turn:>2} {name:<8} {row.get('status')} (load {os.getloadavg()[0]:.2f}): "
                f"felt {row.get('first_audio_ms', float('nan')):6.0f} ms  {splits(row)}  "
                f"heard {row['heard']!r}",
                flush=True,
            )
            await asyncio.sleep(0.3)  # the reply's tail leaves the loop, as felt_latency does


def splits(row: dict[str, Any]) -> str:
    """The turn's marks after the last voiced sample, in ms (what each system reports)."""
    return " ".join(f"{k[:-3]} {v:.0f}" for k, v in row.items() if k.endswith("_ms"))


def report(args: argparse.Namespace, settings: dict[str, Any], rows: dict[str, list]) -> int:
    print(f"\npeer bench, {args.turns} turns per system, ABBA; {args.machine}")
    print(f"pipecat settings: {settings | {'instructions': '(rtagents demo instructions)'}}")
    p50s = {}
    for name, landmarks in (
        ("rtagents", (("speech_stopped", "speech_stopped_ms"),)),
        ("pipecat", (("VAD stop", "vad_stopped_ms"), ("turn end", "turn_end_ms"))),
    ):
        ok = [r for r in rows[name] if r.get("status") == "completed" and "first_audio_ms" in r]
        print(f"\n{name}: {len(ok)}/{len(rows[name])} turns completed with audio")
        if not ok:
            continue
        p50, p90 = p50_p90([r["first_audio_ms"] for r in ok])
        p50s[name] = p50
        print(f"  last voiced -> first audio      p50 {p50:6.0f} ms   p90 {p90:6.0f} ms")
        for label, key in landmarks:
            for text, values in (
                (f"last voiced -> {label}", [r[key] for r in ok if key in r]),
                (f"{label} -> first audio", [r["first_audio_ms"] - r[key] for r in ok if key in r]),
            ):
                if not values:
                    continue
                a, b = p50_p90(values)
                print(f"    {text:<30} p50 {a:6.0f} ms   p90 {b:6.0f} ms")
        heard: dict[str, set[str]] = {}
        for r in rows[name]:
            heard.setdefault(r["question"], set()).add(r["heard"])
        for question, texts in heard.items():
            print(f"    {question!r} heard as {sorted(texts)}")
    if len(p50s) < 2:
        return 1
    print("\n" + verdict(p50s["rtagents"], p50s["pipecat"]))
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_turn_options(parser, "system")
    parser.add_argument("--machine", default="this machine")
    return parsed_turns(parser)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
