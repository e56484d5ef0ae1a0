"""What an agent's callables receive: the app's own context object, and for tools the call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from .agent_session import AgentSession

TContext = TypeVar("TContext")


@dataclass(slots=True)
class RunContext(Generic[TContext]):
    """Wraps the ``context=`` object passed to :class:`~.runner.Runner` (like openai-agents'
    ``RunContextWrapper``): instructions, ``is_enabled`` and guardrails get it first."""

    context: TContext


@dataclass(slots=True)
class ToolContext(RunContext[TContext]):
    """The context of one tool call: which tool, which ``call_id``, and the live session
    (a tool may speak or send through it, as :func:`~.delegate.delegate` does)."""

    tool_name: str = ""
    call_id: str = ""
    arguments: str = "{}"
    session: AgentSession[Any] | None = None
