"""Run a scenario's scripted caller against a server that is already running.

What ``python examples/<name>/agents.py`` does: connect the scenario's agents
to ``--url`` (a ``rtagents serve --scenario-rules examples/<name>/rules.toml``
server, or any Realtime server whose model chooses tools itself), type each
caller line as text, and print the transcript. ``rtagents demo --scenario``
does the same with an in-process server and spoken lines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from typing import Any

from ..agents import Runner
from .catalog import ServerLink
from .player import ScenarioPlayer
from .report import format_call

TEXT_REPLIES = {"type": "realtime", "output_modalities": ["text"]}


async def play_scenario(name: str, link: ServerLink, *, transport: str = "websocket") -> int:
    """Play every scripted call of scenario ``name``; 0 when none reported an error."""
    from . import SCENARIOS

    scenario = SCENARIOS[name]
    failures = 0
    for call in scenario.calls:
        agent = scenario.build(link)
        runner: Runner[Any] = Runner(
            agent,
            url=_ws_url(link.http_url) if transport == "websocket" else link.http_url,
            credentials=link.api_key,
            model=link.model,
            transport="webrtc" if transport == "webrtc" else "websocket",
            context=scenario.new_context(),
            config=TEXT_REPLIES,
        )
        session = await runner.run()
        async with session:
            player = ScenarioPlayer(session)
            try:
                for line in call.lines:
                    await player.say(line)
            finally:
                await player.close()
        print(format_call(call.title, agent.name, player.turns), end="\n\n", flush=True)
        failures += bool(player.errors)
    return 1 if failures else 0


def main(name: str, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"Play the {name} scenario against a server.")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("RTAGENTS_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        help="API key (env RTAGENTS_API_KEY or OPENAI_API_KEY)",
    )
    parser.add_argument("--model", default="gpt-realtime")
    parser.add_argument("--transport", choices=("websocket", "webrtc"), default="websocket")
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("give --api-key (or set RTAGENTS_API_KEY): the server's API key")
    link = ServerLink(args.url, args.api_key, args.model)
    return asyncio.run(play_scenario(name, link, transport=args.transport))


def _ws_url(http_url: str) -> str:
    base = http_url.rstrip("/")
    scheme, _, rest = base.partition("://")
    return ("wss://" if scheme == "https" else "ws://") + rest + "/v1/realtime"
