"""The scenarios as plain JSON for the browser console (``src/rtagents/web/scenarios.json``).

The console has no Python: it needs each agent's instructions and tool
definitions to configure its session, which handoff leads where, which tools
need approval, and the brand guardrail's keyword rules to show a verdict. The
file is generated (``python -m rtagents.scenarios.export``) and a test keeps
it equal to these definitions.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ..agents import Agent, RunContext, reachable
from .brand_guardrail import CATEGORIES
from .catalog import ServerLink

CONSOLE_FILE = Path(__file__).resolve().parents[1] / "web" / "scenarios.json"
_LINK = ServerLink("http://127.0.0.1:8000", "unused")  # tool definitions do not depend on it


def console_catalog() -> dict[str, Any]:
    """Every scenario's agents as the console uses them, in a stable order."""
    from . import SCENARIOS

    scenarios = []
    for scenario in SCENARIOS.values():
        root = scenario.build(_LINK)
        agents = {agent.name: asyncio.run(_agent(agent)) for agent in reachable(root)}
        scenarios.append(
            {
                "name": scenario.name,
                "summary": scenario.summary,
                "rules_file": scenario.rules_file.name,
                "start": root.name,
                "agents": dict(sorted(agents.items())),
                "caller": [list(call.lines) for call in scenario.calls],
            }
        )
    return {
        "scenarios": scenarios,
        "guardrail_categories": [[label, list(words)] for label, words in CATEGORIES],
    }


async def _agent(agent: Agent[Any]) -> dict[str, Any]:
    config = await agent.session_config(RunContext(None), voice=False)
    return {
        "instructions": config["instructions"],
        "tools": config["tools"],
        "handoffs": {h.tool_name: h.agent.name for h in agent.handoff_list()},
        "needs_approval": sorted(t.name for t in agent.tools if t.needs_approval is not False),
        "guardrails": [g.get_name() for g in agent.output_guardrails],
    }


def render() -> str:
    return json.dumps(console_catalog(), indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    CONSOLE_FILE.write_text(render())
    sys.stdout.write(f"wrote {CONSOLE_FILE}\n")
