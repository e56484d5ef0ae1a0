"""The typed events of an agent session (``async for event in session``).

Names follow openai-agents' realtime session events (``agent_start``,
``tool_end``, ``guardrail_tripped``, …) so event loops port as they are;
every event is a frozen, keyword-only dataclass with a literal ``type``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ..protocol.errors import RealtimeError

if TYPE_CHECKING:
    from .agent import Agent, FunctionTool, Handoff, OutputGuardrailResult


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStart:
    """``agent`` starts answering (a response was created while it was active)."""

    agent: Agent[Any]
    response_id: str | None = None
    type: Literal["agent_start"] = "agent_start"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentEnd:
    """``agent``'s response ended (``status``: completed, cancelled, failed, incomplete)."""

    agent: Agent[Any]
    response_id: str | None = None
    status: str | None = None
    type: Literal["agent_end"] = "agent_end"


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffEvent:
    """The active agent changed (``call_id`` is None for :meth:`AgentSession.switch_agent`)."""

    from_agent: Agent[Any]
    to_agent: Agent[Any]
    call_id: str | None = None
    type: Literal["handoff"] = "handoff"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolStart:
    agent: Agent[Any]
    tool: FunctionTool | Handoff
    call_id: str
    arguments: str
    type: Literal["tool_start"] = "tool_start"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolEnd:
    """A call finished; ``output`` is what the model got (an error text on failure)."""

    agent: Agent[Any]
    tool: FunctionTool | Handoff
    call_id: str
    arguments: str
    output: str
    error: RealtimeError | None = None
    type: Literal["tool_end"] = "tool_end"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolApprovalRequired:
    """Call :meth:`AgentSession.approve` or :meth:`AgentSession.reject` with ``call_id``."""

    agent: Agent[Any]
    tool: FunctionTool
    call_id: str
    arguments: str
    type: Literal["tool_approval_required"] = "tool_approval_required"


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardrailTripped:
    """A response was stopped: which guardrails tripped, on what text, and why."""

    agent: Agent[Any]
    response_id: str
    item_id: str | None
    results: tuple[OutputGuardrailResult, ...]
    message: str
    type: Literal["guardrail_tripped"] = "guardrail_tripped"

    @property
    def names(self) -> list[str]:
        return [r.guardrail.get_name() for r in self.results]


@dataclass(frozen=True, slots=True, kw_only=True)
class Audio:
    """Output audio in the session's output format, as it arrives."""

    data: bytes
    item_id: str
    response_id: str | None
    content_index: int = 0
    type: Literal["audio"] = "audio"


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioEnd:
    item_id: str
    response_id: str | None
    type: Literal["audio_end"] = "audio_end"


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioInterrupted:
    """Stop playing ``item_id`` now (a barge-in, :meth:`interrupt` or a guardrail trip)."""

    item_id: str | None
    audio_end_ms: int | None
    reason: str
    type: Literal["audio_interrupted"] = "audio_interrupted"


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    """Text of an item: assistant deltas (``final=False``) and whole transcripts."""

    item_id: str
    role: Literal["user", "assistant"]
    text: str
    final: bool
    response_id: str | None = None
    type: Literal["transcript"] = "transcript"


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryUpdated:
    """The conversation changed; ``history`` is a snapshot of its items."""

    history: list[Any]
    type: Literal["history_updated"] = "history_updated"


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """A classified error; ``category`` answers "transport bug or prompt problem?"."""

    error: RealtimeError
    type: Literal["error"] = "error"

    @property
    def category(self) -> str:
        return str(self.error.category)


@dataclass(frozen=True, slots=True, kw_only=True)
class RawEvent:
    """Every event of the client session (server events and rtagents lifecycle ones)."""

    event: Any
    type: Literal["raw_model_event"] = "raw_model_event"


AgentEvent: TypeAlias = (
    AgentStart
    | AgentEnd
    | HandoffEvent
    | ToolStart
    | ToolEnd
    | ToolApprovalRequired
    | GuardrailTripped
    | Audio
    | AudioEnd
    | AudioInterrupted
    | Transcript
    | HistoryUpdated
    | Error
    | RawEvent
)
