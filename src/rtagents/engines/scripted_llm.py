"""A rule-driven LLM double: the same request always streams the same chunks.

Tests script the *model*, never the protocol: a :class:`Rule` says what the
model does when a turn matches, and everything the session host does with the
stream (events, tool calls, cancellation, usage) runs for real.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from .base import (
    LLM,
    EngineFailure,
    LLMChunk,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
    Usage,
)

GREETING = "Hello, how can I help you?"  # the reply when nobody has said anything yet


@dataclass(frozen=True)
class Say:
    """Stream ``text`` word by word, ``token_delay_s`` apart."""

    text: str
    token_delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.token_delay_s < 0:
            raise ValueError(f"Say.token_delay_s must be >= 0, got {self.token_delay_s!r}")


@dataclass(frozen=True)
class CallTool:
    """Call function ``name``; a ``str`` is sent verbatim (it may be invalid JSON on purpose).

    The arguments stream in pieces ``token_delay_s`` apart, as a slow model's do.
    """

    name: str
    arguments: Mapping[str, Any] | str = "{}"
    token_delay_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("CallTool.name must be a non-empty function name")
        if self.token_delay_s < 0:
            raise ValueError(f"CallTool.token_delay_s must be >= 0, got {self.token_delay_s!r}")

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments))


@dataclass(frozen=True)
class Fail:
    """Raise :class:`EngineFailure` (message, hint), as a broken model would."""

    message: str
    hint: str = ""


Reply: TypeAlias = Say | CallTool | Fail
Matcher: TypeAlias = str | re.Pattern[str] | Callable[[LLMRequest], bool]


@dataclass(frozen=True)
class Rule:
    """When ``when`` matches a turn, the model does ``then`` (one reply or several in order).

    A ``str`` matches if it occurs in the user's text (case-insensitive), a
    pattern if ``pattern.search`` finds it there; both only answer a user turn,
    never a tool output, so a rule that calls a tool does not loop. A callable
    receives the whole request and decides alone.
    """

    when: Matcher
    then: Reply | Sequence[Reply]

    def __post_init__(self) -> None:
        if not isinstance(self.when, str | re.Pattern) and not callable(self.when):
            raise TypeError(
                f"Rule.when must be a str, a re.Pattern or a callable, got {self.when!r}"
            )
        replies = self.replies
        if not replies or not all(isinstance(r, Say | CallTool | Fail) for r in replies):
            raise TypeError(
                "Rule.then must be Say, CallTool, Fail or a non-empty sequence of them, "
                f"got {self.then!r}"
            )

    @property
    def replies(self) -> tuple[Reply, ...]:
        return (self.then,) if isinstance(self.then, Say | CallTool | Fail) else tuple(self.then)

    def matches(self, request: LLMRequest) -> bool:
        if callable(self.when) and not isinstance(self.when, str | re.Pattern):
            return bool(self.when(request))
        text = last_user_text(request)
        if text is None or _trailing_tool_outputs(request):
            return False
        if isinstance(self.when, str):
            return self.when.casefold() in text.casefold()
        return self.when.search(text) is not None


def last_user_text(request: LLMRequest) -> str | None:
    """The content of the latest user message, if any."""
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return None


def _trailing_tool_outputs(request: LLMRequest) -> list[str]:
    """Outputs of the tool messages that end the conversation (parallel calls give several)."""
    outputs: list[str] = []
    for message in reversed(request.messages):
        if message.role != "tool":
            break
        outputs.append(message.content)
    return outputs[::-1]


def _allowed(replies: Sequence[Reply], tool_choice: str) -> bool:
    """Whether a rule's replies obey ``tool_choice`` (a failure is always possible)."""
    if any(isinstance(r, Fail) for r in replies):
        return True
    names = [r.name for r in replies if isinstance(r, CallTool)]
    if tool_choice == "auto":
        return True
    if tool_choice == "none":
        return not names
    if tool_choice == "required":
        return bool(names)
    return tool_choice in names


def word_pieces(text: str) -> list[str]:
    """Word pieces that keep their whitespace, so they join back to ``text``.

    The LLM streams them as text deltas and the TTS speaks one per chunk, so
    audio and text of a reply advance word by word together.
    """
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def _argument_pieces(arguments: str) -> list[str]:
    """Split arguments in two or three pieces, like a model streaming them."""
    if len(arguments) < 2:
        return [arguments]
    size = -(-len(arguments) // 3)  # ceil(len / 3), at least 1 from here on
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def _count_words(text: str) -> int:
    return len(text.split())


class ScriptedLLM(LLM):
    """Answers from rules, first match wins; otherwise a predictable default.

    Default: after tool outputs, ``"The tool returned: <output>"``; otherwise
    ``"You said: <last user text>"`` (or :data:`GREETING` with no user text).
    ``tool_choice="none"`` skips rules that call tools; ``"required"`` (or a
    function name) skips rules that do not, and with no such rule calls the
    first (or named) tool with ``{}``. Output stops after
    ``max_output_tokens`` words; usage counts words both ways.
    """

    def __init__(self, rules: Sequence[Rule] = ()) -> None:
        self._rules = tuple(rules)
        self._calls = 0

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        budget = request.max_output_tokens
        produced = 0
        for reply in self._choose(request):
            if budget is not None and produced >= budget:
                break
            if isinstance(reply, Fail):
                raise EngineFailure(reply.message, hint=reply.hint)
            if isinstance(reply, Say):
                for index, word in enumerate(word_pieces(reply.text)):
                    if budget is not None and produced >= budget:
                        break
                    await asyncio.sleep(reply.token_delay_s if index else 0)
                    yield TextDelta(word)
                    produced += 1
            else:
                call_id = self._call_id(request, reply)
                arguments = reply.arguments_json
                for index, piece in enumerate(_argument_pieces(arguments)):
                    await asyncio.sleep(reply.token_delay_s if index else 0)
                    yield ToolCallDelta(call_id=call_id, name=reply.name, arguments_delta=piece)
                produced += max(1, _count_words(arguments))
        yield Usage(input_tokens=_input_tokens(request), output_tokens=produced)

    def _choose(self, request: LLMRequest) -> tuple[Reply, ...]:
        for rule in self._rules:
            if _allowed(rule.replies, request.tool_choice) and rule.matches(request):
                return rule.replies
        return (self._default(request),)

    def _default(self, request: LLMRequest) -> Reply:
        choice = request.tool_choice
        if choice == "required" and request.tools:
            return CallTool(request.tools[0].name, {})
        if choice not in ("auto", "none", "required"):
            return CallTool(choice, {})
        outputs = _trailing_tool_outputs(request)
        if outputs:
            return Say("The tool returned: " + "; ".join(outputs))
        text = last_user_text(request)
        return Say(GREETING if text is None else f"You said: {text}")

    def _call_id(self, request: LLMRequest, call: CallTool) -> str:
        """Deterministic for a given sequence of requests, unique per call."""
        self._calls += 1
        context = [self._calls, call.name, call.arguments_json]
        context += [[m.role, m.content, m.tool_call_id] for m in request.messages]
        digest = hashlib.sha256(json.dumps(context).encode()).hexdigest()
        return f"call_{digest[:16]}"


def _input_tokens(request: LLMRequest) -> int:
    total = _count_words(request.instructions)
    for message in request.messages:
        total += _count_words(message.content)
        total += sum(_count_words(call.arguments) for call in message.tool_calls)
    return total
