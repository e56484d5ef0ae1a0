"""Scenario rules: a declared file that picks tool calls from the user's words.

A small model (the embedded SmolLM2) cannot choose tools, so offline
scenarios declare their intents instead: "a user turn that says 'haiku'
while the greeter is active calls ``transfer_to_haiku_writer``". The format
is documented in docs/scenario_rules.md; this module loads and checks a file
(TOML or JSON) so that a mistake is reported at startup with the rule and
field at fault, never at the first matching turn.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .base import LLMRequest

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)?)\}")
TOOL_NAME = r"^[a-zA-Z0-9_-]{1,64}$"


class ScenarioRulesError(ValueError):
    """The rules file cannot be used; the message names the file, rule and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentSignature(_Strict):
    """How to recognise an agent in a request: tools it offers, words in its instructions."""

    tools: list[Annotated[str, Field(pattern=TOOL_NAME)]] = Field(default_factory=list)
    instructions_contain: str = ""

    @model_validator(mode="after")
    def _not_empty(self) -> AgentSignature:
        if not self.tools and not self.instructions_contain:
            raise ValueError("an agent needs 'tools' or 'instructions_contain' to be recognised")
        return self

    def recognises(self, request: LLMRequest) -> bool:
        offered = {tool.name for tool in request.tools}
        if not offered.issuperset(self.tools):
            return False
        wanted = self.instructions_contain.casefold()
        return wanted in request.instructions.casefold()


class ScenarioRule(_Strict):
    """One intent: a trigger on the user's text, then a tool call and/or a fixed reply."""

    name: str = ""
    agent: str | None = None
    keywords: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    regex: str | None = None
    always: bool = False
    call: Annotated[str, Field(pattern=TOOL_NAME)] | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    say: str | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ScenarioRule:
        triggers = sum([bool(self.keywords), self.regex is not None, self.always])
        if triggers != 1:
            raise ValueError("give exactly one trigger: 'keywords', 'regex' or 'always = true'")
        if self.call is None and self.say is None:
            raise ValueError("give 'call' (a tool to call), 'say' (a reply), or both")
        if self.call is None and self.arguments:
            raise ValueError("'arguments' needs 'call'")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"'regex' does not compile: {exc}") from None
        self._check_placeholders()
        return self

    def _check_placeholders(self) -> None:
        known = {"text", *self.pattern.groupindex} if self.regex else {"text"}
        for where, text in [("arguments", json.dumps(self.arguments)), ("say", self.say or "")]:
            for name in PLACEHOLDER.findall(text):
                root = name.split(".")[0]
                if root == "output" and where == "say" and self.call is not None:
                    continue
                if name not in known:
                    raise ValueError(
                        f"placeholder {{{name}}} in '{where}' is unknown; use {{text}}, a "
                        "named group of 'regex', or in 'say' after a 'call', {output} / "
                        "{output.field}"
                    )

    @property
    def pattern(self) -> re.Pattern[str]:
        if self.regex is not None:
            return re.compile(self.regex, re.IGNORECASE)
        words = "|".join(re.escape(word) for word in self.keywords)
        return re.compile(rf"(?<!\w)(?:{words})(?!\w)" if words else "", re.IGNORECASE)

    def match(self, text: str) -> dict[str, str] | None:
        """Placeholder values when ``text`` triggers this rule, else None."""
        found = self.pattern.search(text)
        if found is None:
            return None
        groups = {k: v for k, v in found.groupdict().items() if v is not None}
        return {**groups, "text": text}


class RulesFile(_Strict):
    agents: dict[str, AgentSignature] = Field(default_factory=dict)
    rules: Annotated[list[ScenarioRule], Field(min_length=1)]

    @model_validator(mode="after")
    def _agents_declared(self) -> RulesFile:
        for index, rule in enumerate(self.rules):
            if rule.agent is not None and rule.agent not in self.agents:
                raise ValueError(
                    f"rules[{index}].agent is {rule.agent!r}, which no [agents.{rule.agent}] "
                    f"table declares (declared: {sorted(self.agents) or 'none'})"
                )
        return self


@dataclass(frozen=True)
class ScenarioRules:
    """A loaded rules file: where it came from, its agents and rules in order."""

    source: str
    agents: Mapping[str, AgentSignature]
    rules: Sequence[ScenarioRule]

    def applies(self, rule: ScenarioRule, request: LLMRequest) -> bool:
        """Whether ``rule``'s agent (if any) is the one making ``request``."""
        return rule.agent is None or self.agents[rule.agent].recognises(request)


def load_scenario_rules(path: str | Path) -> ScenarioRules:
    """Read and check a ``.toml`` or ``.json`` rules file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioRulesError(f"scenario rules file {path}: cannot read it: {exc}") from None
    return parse_scenario_rules(raw, source=str(path), toml=path.suffix.lower() != ".json")


def parse_scenario_rules(raw: bytes, *, source: str, toml: bool = True) -> ScenarioRules:
    try:
        data = tomllib.loads(raw.decode()) if toml else json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        kind = "TOML" if toml else "JSON"
        raise ScenarioRulesError(f"scenario rules file {source}: not valid {kind}: {exc}") from None
    try:
        parsed = RulesFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = _path(error["loc"]) or "the file"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ScenarioRulesError(f"scenario rules file {source}: {where}: {message}") from None
    return ScenarioRules(source=source, agents=parsed.agents, rules=tuple(parsed.rules))


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
