"""How many tokens a prompt costs a model: what fitting the history and usage are counted with.

An LLM engine that knows its tokenizer and context window implements
:class:`PromptMeasuring` (the embedded SmolLM2 counts with llama.cpp's own
tokenizer and chat template, :mod:`.local.llama_tokens`). For an engine that
does not, the server counts with :class:`WordCounter`: one token per
whitespace-separated word, the rule the scripted engine's own ``Usage``
reports, so that for it the fitted history and the usage agree exactly. For
any other model it is an estimate (English text runs at roughly 1.3 BPE
tokens per word), said so in docs/engines.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .base import ChatMessage, ToolSpec


@dataclass(frozen=True, slots=True)
class PromptSize:
    """A prompt's tokens: ``fixed`` (instructions, tools, template) and each message's."""

    fixed: int
    messages: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.fixed + sum(self.messages)


@runtime_checkable
class PromptMeasuring(Protocol):
    """An engine that counts its own prompts; ``context_tokens`` is its window (None: unknown)."""

    @property
    def context_tokens(self) -> int | None: ...

    async def measure(
        self, instructions: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> PromptSize: ...

    async def count_text(self, text: str) -> int: ...


def words(text: str) -> int:
    """Whitespace-separated words: the scripted engine's tokens."""
    return len(text.split())


def message_words(message: ChatMessage) -> int:
    """A message's words, its tool calls' names and arguments included."""
    total = words(message.content)
    for call in message.tool_calls:
        total += words(call.name) + words(call.arguments)
    return total


class WordCounter:
    """Counts one token per word; the window is whatever the operator says (None: unknown)."""

    def __init__(self, context_tokens: int | None = None) -> None:
        self._context_tokens = context_tokens

    @property
    def context_tokens(self) -> int | None:
        return self._context_tokens

    async def measure(
        self, instructions: str, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> PromptSize:
        fixed = words(instructions) + sum(words(_tool_text(tool)) for tool in tools)
        return PromptSize(fixed, tuple(message_words(m) for m in messages))

    async def count_text(self, text: str) -> int:
        return words(text)


def _tool_text(tool: ToolSpec) -> str:
    return f"{tool.name} {tool.description} {json.dumps(dict(tool.parameters))}"


def prompt_measurer(llm: object) -> PromptMeasuring:
    """The engine itself when it counts its prompts, else a :class:`WordCounter`."""
    if isinstance(llm, PromptMeasuring):
        return llm
    return WordCounter(getattr(llm, "context_tokens", None))
