"""Output guardrails: checks of the assistant's transcript while it is still being spoken.

A check runs every ``debounce_text_length`` new characters of a response's
transcript and once more when the response ends; a trip is acted on once per
response (the session cancels, truncates at what was heard and corrects, see
:mod:`.session_guard`). The state lives on the agent session, not on the
connection, so a reconnect or rebuild neither repeats nor forgets a trip.
:class:`~.agent.OutputGuardrail` and its results are defined with the agent,
which lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, overload

from ..protocol.bounded import RecentDict
from .agent import Agent, GuardrailFunction, OutputGuardrail


@overload
def output_guardrail(fn: GuardrailFunction, /) -> OutputGuardrail: ...


@overload
def output_guardrail(
    fn: None = None, /, *, name: str | None = None
) -> Callable[[GuardrailFunction], OutputGuardrail]: ...


def output_guardrail(
    fn: GuardrailFunction | None = None, /, *, name: str | None = None
) -> OutputGuardrail | Callable[[GuardrailFunction], OutputGuardrail]:
    """Make an :class:`OutputGuardrail` of ``fn`` (also as ``@output_guardrail(name=...)``)."""

    def build(function: GuardrailFunction) -> OutputGuardrail:
        return OutputGuardrail(guardrail_function=function, name=name)

    return build if fn is None else build(fn)


@dataclass(slots=True)
class ResponseText:
    """The transcript of one response so far, and where its checks stand."""

    response_id: str
    agent: Agent[Any]
    item_id: str | None = None
    parts: list[str] = field(default_factory=list)
    length: int = 0
    checked: int = 0
    checking: bool = False
    again: bool = False
    ended: bool = False

    @property
    def text(self) -> str:
        return "".join(self.parts)


class GuardrailWatch:
    """Debounced bookkeeping of every response's transcript (bounded)."""

    def __init__(self, debounce_text_length: int = 100, *, remember: int = 1024) -> None:
        if debounce_text_length < 1:
            raise ValueError(f"debounce_text_length must be >= 1, got {debounce_text_length}")
        self.debounce = debounce_text_length
        self._responses: RecentDict[str, ResponseText] = RecentDict(remember)
        self.tripped: RecentDict[str, None] = RecentDict(remember)
        """Responses already acted on: a trip happens once per response."""

    def get(self, response_id: str) -> ResponseText | None:
        return self._responses.get(response_id)

    def start(self, response_id: str, agent: Agent[Any]) -> ResponseText:
        state = self._responses.get(response_id)
        if state is None:
            state = self._responses[response_id] = ResponseText(response_id, agent)
        return state

    def add(self, state: ResponseText, delta: str, item_id: str | None) -> bool:
        """Append ``delta``; True when a check is due (``debounce`` new characters)."""
        state.parts.append(delta)
        state.length += len(delta)
        state.item_id = state.item_id or item_id
        return state.length - state.checked >= self.debounce

    def mark_tripped(self, response_id: str) -> bool:
        """True the first time only."""
        if response_id in self.tripped:
            return False
        self.tripped[response_id] = None
        return True

    def forget(self, response_id: str) -> None:
        self._responses.pop(response_id, None)
