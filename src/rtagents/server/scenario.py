"""Scenario rules on the server's LLM: loaded once at startup, labelled where operators look.

Rule-driven tool choice is a stand-in for a model that can choose tools, so
it must never pass for one: a startup log line says so, ``/healthz`` reports
it (the console shows that), and when the LLM is an external model that
decides for itself (``--llm-url``) the rules stand down unless forced.
GA protocol events never carry any of this (no invented fields).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from ..engines.base import Engines
from ..engines.rules_llm import with_rules
from ..engines.scenario_rules import load_scenario_rules
from .config import ServerConfig

log = logging.getLogger("rtagents.server.scenario")

RULE_DRIVEN = "tool choice is rule-driven, not model-driven"


def apply_scenario_rules(config: ServerConfig, engines: Engines) -> tuple[Engines, dict[str, Any]]:
    """``engines`` with the rules wrapped around its LLM (or not), and the ``/healthz`` status.

    Raises :class:`~rtagents.engines.scenario_rules.ScenarioRulesError` for a
    file that cannot be used: a server that silently ignored its scenario
    would make every later symptom misleading.
    """
    if config.scenario_rules is None:
        return engines, {"active": False}
    rules = load_scenario_rules(config.scenario_rules)
    status: dict[str, Any] = {"file": rules.source, "rules": len(rules.rules)}
    if getattr(engines.llm, "chooses_tools", False) and not config.scenario_rules_forced:
        log.warning(
            "scenario rules from %s: not used; the LLM (%s) chooses tools itself. Force them "
            "with scenario_rules_forced (--force-scenario-rules).",
            rules.source,
            engines.labels.get("llm") or type(engines.llm).__name__,
        )
        return engines, {**status, "active": False, "note": "the model chooses tools"}
    log.warning("scenario rules from %s: %d rules; %s", rules.source, len(rules.rules), RULE_DRIVEN)
    wrapped = dataclasses.replace(engines, llm=with_rules(engines.llm, rules))
    return wrapped, {**status, "active": True, "note": RULE_DRIVEN}
