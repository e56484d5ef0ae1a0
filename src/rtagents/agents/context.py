"""What an agent's callables receive first: the app's own context object, wrapped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

TContext = TypeVar("TContext")


@dataclass(slots=True)
class RunContext(Generic[TContext]):
    """Wraps the ``context=`` object passed to :class:`~.runner.Runner` (like openai-agents'
    ``RunContextWrapper``): instructions, ``is_enabled`` and guardrails get it first; a
    tool gets its subclass :class:`~.agent.ToolContext`, which adds the call and session."""

    context: TContext
