"""What a scenario is: an agent graph, the rules file that drives it offline, and a caller.

The same definition serves the runnable examples, ``rtagents demo --scenario``,
the console's picker and the end-to-end tests, so what the demo shows is
exactly what the tests check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..agents import Agent

RULES_DIR = Path(__file__).resolve().parent / "rules"


@dataclass(frozen=True)
class ServerLink:
    """Where the scenario's server answers (the supervisor's text model lives there too)."""

    http_url: str
    api_key: str
    model: str = "gpt-realtime"


@dataclass(frozen=True)
class Call:
    """One scripted phone call: what the caller says, line by line, in order.

    ``say_as`` gives a synthetic voice the words to read for a line whose
    written form it reads badly (digits: Piper says "206" as "two hundred six",
    which Whisper then hears wrong); the tone-coded voice sends the line itself.
    """

    title: str
    lines: tuple[str, ...]
    say_as: Mapping[str, str] = field(default_factory=dict)

    def spoken(self, line: str) -> str:
        return self.say_as.get(line, line)


@dataclass(frozen=True)
class Scenario:
    """A named scenario: ``build(link)`` makes its starting agent, ``new_context()`` the
    per-session state its tools share, ``calls`` the scripted callers of the demo."""

    name: str
    summary: str
    build: Callable[[ServerLink], Agent[Any]]
    calls: tuple[Call, ...]
    new_context: Callable[[], Any] = field(default=lambda: None)

    @property
    def rules_file(self) -> Path:
        """The scenario rules (docs/scenario_rules.md) that stand in for a tool-choosing model."""
        return RULES_DIR / f"{self.name}.toml"


def agent_names(root: Agent[Any]) -> list[str]:
    """Every agent reachable from ``root`` (handoff cycles visited once), first found first."""
    seen: list[Agent[Any]] = []
    stack = [root]
    while stack:
        agent = stack.pop(0)
        if any(agent is known for known in seen):
            continue
        seen.append(agent)
        stack.extend(h.agent for h in agent.handoff_list())
    return [agent.name for agent in seen]
