"""An LLM wrapper whose tool choice comes from scenario rules, its free replies from the model.

On a user turn the first rule that applies (its agent is active, its tool is
offered, ``tool_choice`` allows it, its trigger matches the user's text)
answers: a tool call, a fixed line, or both (the line then waits for the
call's output). Every other turn, including the one after a tool output
whose rule has no ``say``, goes to the wrapped LLM. Labelled as such in the
log and on ``/healthz``: tool choice here is rule-driven, not model-driven.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from ..protocol.json_depth import parse_untrusted
from .base import LLM, LLMChunk, LLMRequest, TextDelta, ToolCallDelta, Usage, close_stream
from .scenario_rules import PLACEHOLDER, ScenarioRule, ScenarioRules

log = logging.getLogger("rtagents.engines.rules")


class RulesLLM(LLM):
    """``rules`` first, ``inner`` for everything they leave to a model."""

    def __init__(self, inner: LLM, rules: ScenarioRules) -> None:
        self.inner = inner
        self.rules = rules

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        scripted = self._scripted_reply(request)
        if scripted is None:
            inner = self.inner.stream(request)
            try:
                async for chunk in inner:
                    yield chunk
            finally:
                await close_stream(inner)
            return
        produced = 0
        for chunk in scripted:
            produced += 1
            yield chunk
        yield Usage(input_tokens=_input_words(request), output_tokens=produced)

    def _scripted_reply(self, request: LLMRequest) -> list[LLMChunk] | None:
        last = request.messages[-1] if request.messages else None
        if last is not None and last.role == "user":
            return self._on_user_turn(request, last.content)
        if last is not None and last.role == "tool":
            return self._after_tool_output(request)
        return None

    def _on_user_turn(self, request: LLMRequest, text: str) -> list[LLMChunk] | None:
        offered = {tool.name for tool in request.tools}
        for rule in self.rules.rules:
            if not _allowed(rule, request.tool_choice, offered):
                continue
            values = rule.match(text)
            if values is None or not self.rules.applies(rule, request):
                continue
            try:  # an optional regex group that did not take part leaves a hole
                reply = _fill(rule.say or "", values) if rule.call is None else ""
                arguments = json.dumps(_fill_json(rule.arguments, values))
            except KeyError:
                continue
            log.info("scenario rule %s matched the user's turn", _label(rule, self.rules))
            if rule.call is None:
                return _say(reply)
            call_id = "call_" + secrets.token_hex(12)
            return [ToolCallDelta(call_id=call_id, name=rule.call, arguments_delta=arguments)]
        return None

    def _after_tool_output(self, request: LLMRequest) -> list[LLMChunk] | None:
        """The ``say`` of the rule that made the answered call, with its output filled in."""
        outputs: dict[str, str] = {}  # call_id -> output (parallel calls answer together)
        messages = list(request.messages)
        while messages and messages[-1].role == "tool":
            answer = messages.pop()
            outputs[answer.tool_call_id or ""] = answer.content
        if not messages or not messages[-1].tool_calls:
            return None
        called = {call.name: outputs.get(call.call_id, "") for call in messages[-1].tool_calls}
        user_text = next((m.content for m in reversed(messages) if m.role == "user"), "")
        for rule in self.rules.rules:
            if rule.call not in called or rule.say is None:
                continue
            values = rule.match(user_text)
            if values is None:
                continue
            try:
                return _say(_fill(rule.say, {**values, **_output_values(called[rule.call])}))
            except KeyError as exc:
                log.warning(
                    "scenario rule %s: the tool output has no %s; the model speaks instead",
                    _label(rule, self.rules),
                    exc,
                )
                return None
        return None


class WarmableRulesLLM(RulesLLM):
    """A :class:`RulesLLM` around a model that loads ahead (warming the wrapper warms it)."""

    async def warm_up(self) -> None:
        await self.inner.warm_up()  # type: ignore[attr-defined]

    @property
    def reason(self) -> str:
        return str(getattr(self.inner, "reason", "") or "")


def with_rules(inner: LLM, rules: ScenarioRules) -> RulesLLM:
    """``inner`` wrapped, keeping its warm-up visible to the server's readiness check."""
    if callable(getattr(inner, "warm_up", None)):
        return WarmableRulesLLM(inner, rules)
    return RulesLLM(inner, rules)


def _allowed(rule: ScenarioRule, tool_choice: str, offered: set[str]) -> bool:
    """The model could have made this choice: the tool is offered and the choice permits it."""
    if rule.call is None:
        return tool_choice in ("auto", "none")
    if rule.call not in offered or tool_choice == "none":
        return False
    return tool_choice in ("auto", "required", rule.call)


def _say(text: str) -> list[LLMChunk]:
    return [TextDelta(piece) for piece in re.findall(r"\s*\S+\s*", text)]


def _fill(template: str, values: Mapping[str, str]) -> str:
    """``{name}`` replaced from ``values`` (KeyError for a missing one)."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _fill_json(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _fill(value, values)
    if isinstance(value, list):
        return [_fill_json(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill_json(item, values) for key, item in value.items()}
    return value


def _output_values(output: str) -> dict[str, str]:
    """``output`` (a JSON string decoded) and ``output.<field>`` for a JSON object's fields."""
    try:
        decoded = parse_untrusted(output)
    except ValueError:
        return {"output": output}
    if isinstance(decoded, str):
        return {"output": decoded}
    values = {"output": output}
    if isinstance(decoded, dict):
        for key, item in decoded.items():
            values[f"output.{key}"] = item if isinstance(item, str) else json.dumps(item)
    return values


def _label(rule: ScenarioRule, rules: ScenarioRules) -> str:
    name = rule.name or f"#{list(rules.rules).index(rule)}"
    return f"{name!r} ({rules.source})"


def _input_words(request: LLMRequest) -> int:
    return len(request.instructions.split()) + sum(len(m.content.split()) for m in request.messages)
