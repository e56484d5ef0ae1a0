"""The agents layer: agents, tools, handoffs, guardrails and delegation on the resilient session.

Built only on :mod:`rtagents.client`'s public surface and :mod:`rtagents.protocol`;
the vocabulary is openai-agents' realtime one (see ``docs/agents.md``).
"""

from __future__ import annotations

from .agent import (
    Agent,
    FunctionTool,
    GuardrailFunctionOutput,
    Handoff,
    OutputGuardrail,
    OutputGuardrailResult,
    ToolContext,
    handoff,
    reachable,
)
from .agent_events import (
    AgentEnd,
    AgentEvent,
    AgentStart,
    Audio,
    AudioEnd,
    AudioInterrupted,
    Error,
    GuardrailTripped,
    HandoffEvent,
    HistoryUpdated,
    RawEvent,
    ToolApprovalRequired,
    ToolEnd,
    ToolStart,
    Transcript,
)
from .agent_session import AgentSession
from .chat import ChatModel
from .context import RunContext
from .delegate import delegate
from .guardrail import output_guardrail
from .runner import Runner
from .supervisor_tools import SupervisorToolCall
from .tool import function_tool

__all__ = [
    "Agent",
    "AgentEnd",
    "AgentEvent",
    "AgentSession",
    "AgentStart",
    "Audio",
    "AudioEnd",
    "AudioInterrupted",
    "ChatModel",
    "Error",
    "FunctionTool",
    "GuardrailFunctionOutput",
    "GuardrailTripped",
    "Handoff",
    "HandoffEvent",
    "HistoryUpdated",
    "OutputGuardrail",
    "OutputGuardrailResult",
    "RawEvent",
    "RunContext",
    "Runner",
    "SupervisorToolCall",
    "ToolApprovalRequired",
    "ToolContext",
    "ToolEnd",
    "ToolStart",
    "Transcript",
    "delegate",
    "function_tool",
    "handoff",
    "output_guardrail",
    "reachable",
]
