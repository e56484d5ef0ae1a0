"""``rtagents demo --scenario NAME``: a scripted caller speaks into one of the ported scenarios.

It starts a server in-process with the scenario's rules file (tool choice is
rule-driven there, and the log says so), connects the scenario's agents over
a real WebSocket with server VAD and input transcription, and speaks each
caller line as audio (tones with ``--engine scripted``, Piper with
``--engine local``; Whisper then hears it and the embedded LLM answers what
the rules leave free). It prints the transcript with agent changes, tool
calls and results, approvals, guardrail verdicts and per-turn latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any

from .demo import session_config
from .demo_engines import DemoVoice, demo_engines

SCENARIO_NAMES = ("simple_handoff", "customer_service_retail", "chat_supervisor")


def voice_config() -> dict[str, Any]:
    """The demo's audio session config, minus what the agents set (instructions, tools)."""
    config = session_config()
    config.pop("instructions", None)
    config["max_output_tokens"] = 80  # a phone agent's free replies are short
    return config


async def run_scenario(
    name: str, engine: str, llm_url: str | None, *, text: bool = False, show: bool = True
) -> list[dict[str, Any]]:
    """Every scripted call of scenario ``name``, spoken (or typed with ``text``); the logs.

    ``show`` prints each call's transcript as it ends (off for ``--json``)."""
    from ..agents import Runner
    from ..engines.warmup import WarmUp, close_engines
    from ..scenarios import SCENARIOS, ServerLink
    from ..scenarios.player import ScenarioPlayer, send_text
    from ..scenarios.report import format_call
    from ..server.config import ServerConfig
    from ..server.serving import running_server

    scenario = SCENARIOS[name]
    engines, voice = demo_engines(engine, llm_url=llm_url)
    calls: list[dict[str, Any]] = []
    try:
        print(f"rtagents demo: warming up the {engines.name} engines", flush=True)
        await WarmUp(engines, progress=lambda line: print(f"  {line}", flush=True)).wait()
        config = ServerConfig(port=0, scenario_rules=str(scenario.rules_file))
        async with running_server(config, engines) as server:
            print(f"rtagents demo: scenario {name} ({scenario.summary})", flush=True)
            print(f"  rules: {scenario.rules_file} (tool choice is rule-driven)\n", flush=True)
            for call in scenario.calls:
                agent = scenario.build(ServerLink(server.http_url, server.api_key))
                session_options = (
                    {"type": "realtime", "output_modalities": ["text"]} if text else voice_config()
                )
                runner: Runner[Any] = Runner(
                    agent,
                    url=server.ws_url,
                    credentials=server.api_key,
                    model="gpt-realtime",
                    context=scenario.new_context(),
                    config=session_options,
                )
                session = await runner.run()
                speak = None if text else _Speaker(voice, call, reader=engine == "local")
                async with session:
                    player = ScenarioPlayer(session, speak=speak or send_text)
                    try:
                        for line in call.lines:
                            await player.say(line)
                    finally:
                        if speak is not None:
                            await speak.close()
                        await player.close()
                if show:
                    print(format_call(call.title, agent.name, player.turns), end="\n\n")
                calls.append(
                    {
                        "title": call.title,
                        "turns": [asdict(t) for t in player.turns],
                        "errors": player.errors,
                    }
                )
    finally:
        await close_engines(engines)
    return calls


class _Speaker:
    """Speech for a line, streamed like a microphone; returns when the speech ended.

    The silence after the speech (which lets server VAD find the end of the
    turn) keeps streaming in the background while the reply is awaited, so
    the turn's latencies count from the end of speech, not from the end of
    that silence; the next line (or :meth:`close`) waits for it first. A
    ``reader`` voice (Piper) reads ``Call.say_as`` words at a person's pace;
    the tone code carries the written line, as fast as it can be sent.
    """

    def __init__(self, voice: DemoVoice, call: Any, *, reader: bool) -> None:
        self.voice, self.call, self.realtime = voice, call, reader
        self._silence: asyncio.Task[float] | None = None

    async def __call__(self, session: Any, line: str) -> float:
        from ..testing.spoken import DEFAULT_TRAILING_SILENCE_MS, stream_speech

        await self.close()
        pcm = await self.voice.speak(self.call.spoken(line) if self.realtime else line)
        client = session.client
        ended = await stream_speech(client, pcm, trailing_silence_ms=0, realtime=self.realtime)
        silence = stream_speech(
            client, b"", trailing_silence_ms=DEFAULT_TRAILING_SILENCE_MS, realtime=self.realtime
        )
        self._silence = asyncio.create_task(silence)
        return ended

    async def close(self) -> None:
        if self._silence is not None:
            task, self._silence = self._silence, None
            await asyncio.gather(task, return_exceptions=True)


def run_scenario_demo(args: argparse.Namespace) -> int:
    from ..observability.event_log import configure_logging
    from .serve import require_local_packages

    configure_logging(args.log_format, args.log_level)
    require_local_packages(args.engine, args.llm_url)
    calls = asyncio.run(run_scenario(args.scenario, args.engine, args.llm_url, show=not args.json))
    if args.json:
        print(json.dumps(calls, indent=2, default=str))
    failed = [c["title"] for c in calls if c["errors"]]
    if failed:
        print(f"rtagents demo: errors in {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
