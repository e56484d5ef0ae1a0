"""The reference app's three scenarios, ported: agent graphs, offline rules and scripted callers.

``SCENARIOS[name].build(link)`` makes the starting agent; ``rules_file`` is
what ``rtagents serve --scenario-rules`` loads so that a model that cannot
choose tools still plays the scenario (see docs/scenarios.md).
"""

from __future__ import annotations

from . import chat_supervisor, customer_service_retail, simple_handoff
from .catalog import Call, Scenario, ServerLink, agent_names

SCENARIOS: dict[str, Scenario] = {
    module.SCENARIO.name: module.SCENARIO
    for module in (simple_handoff, customer_service_retail, chat_supervisor)
}

__all__ = ["SCENARIOS", "Call", "Scenario", "ServerLink", "agent_names"]
