"""``@openai/agents-realtime`` on Node, installed by tests/node/package-lock.json, on our server.

The script (tests/node/tool_turn.mjs) runs a handoff and a function tool
over WebSocket with an API key, checks every server event against the SDK's
own schema, and prints a JSON summary; scenario rules (tests/node/rules.toml)
choose the calls on the scripted engine. The same script runs downstream of a
relay (``serve --upstream``) whose upstream has the rules.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rtagents.server.config import ServerConfig
from rtagents.server.relay.upstream_settings import UpstreamSettings
from rtagents.server.serving import running_server

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
INSTALL_TIMEOUT_S = 300
RUN_TIMEOUT_S = 120  # generous: a loaded 2-core CI machine, and Node's start-up

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are not installed; this check runs @openai/agents-realtime on Node",
)


def _installed() -> None:
    """``npm ci`` from the committed lock file, once (``make`` may have done it already)."""
    if (NODE_DIR / "node_modules" / "@openai" / "agents-realtime").is_dir():
        return
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"npm ci failed in {NODE_DIR}:\n{done.stdout}\n{done.stderr}"


async def _run_script(url: str, api_key: str) -> tuple[int, dict[str, Any], str]:
    env = {
        **os.environ,
        "RTAGENTS_URL": url,
        "RTAGENTS_API_KEY": api_key,
        "RTAGENTS_TIMEOUT_MS": str(RUN_TIMEOUT_S * 1000 // 2),
    }
    process = await asyncio.create_subprocess_exec(
        "node",
        "tool_turn.mjs",
        cwd=NODE_DIR,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    lines = out.decode().strip().splitlines()
    summary = json.loads(lines[-1]) if lines else {}
    assert process.returncode is not None
    return process.returncode, summary, err.decode()


@pytest.mark.conformance(
    "session.update",
    "conversation.item.create",
    "response.create",
    "response.function_call_arguments.done",
    "response.done",
    "instructions",
    "tools[function]",
    status="supported",
    client="agents-realtime",
    transport="websocket",
    note="handoff and tool turn; every server event checked against the SDK's zod schema",
)
async def test_node_agents_realtime_runs_a_handoff_and_a_tool_turn() -> None:
    await asyncio.to_thread(_installed)
    config = ServerConfig(port=0, scenario_rules=str(NODE_DIR / "rules.toml"))
    async with running_server(config) as server:
        code, summary, stderr = await _run_script(
            f"{server.ws_url}?model=gpt-realtime", server.api_key
        )
    assert code == 0, (summary, stderr)
    assert summary["handoffs"] == ["greeter->weather_expert"]
    assert summary["toolCalls"] == ["Paris"]  # exactly once
    assert summary["toolResults"] == ["get_weather: It is sunny in Paris."]
    assert summary["transcripts"][-1] == "assistant: It is sunny in Paris."
    assert summary["errors"] == [] and summary["invalidEvents"] == []
    assert summary["eventsChecked"] > 20  # every server event went through the SDK's schema


async def test_node_agents_realtime_runs_the_same_turn_through_the_relay() -> None:
    """The Node SDK downstream of ``serve --upstream``: it talks to the relay only, with
    the relay's key; the upstream (with the scenario rules) answers through it."""
    await asyncio.to_thread(_installed)
    rules = ServerConfig(port=0, scenario_rules=str(NODE_DIR / "rules.toml"))
    async with running_server(rules) as upstream:
        settings = UpstreamSettings(url=upstream.ws_url, api_key=upstream.api_key)
        async with running_server(ServerConfig(port=0, upstream=settings)) as relay:
            code, summary, stderr = await _run_script(
                f"{relay.ws_url}?model=gpt-realtime", relay.api_key
            )
    assert code == 0, (summary, stderr)
    assert summary["handoffs"] == ["greeter->weather_expert"]
    assert summary["toolCalls"] == ["Paris"]  # exactly once
    assert summary["transcripts"][-1] == "assistant: It is sunny in Paris."
    assert summary["errors"] == [] and summary["invalidEvents"] == []
