"""What the chatSupervisor scenario adds to :func:`rtagents.agents.delegate`: its filler and trace.

The loop itself (the text model, its tools, the deadline, the out-of-band
filler) is ``delegate()``'s. The scenario only words the filler so that its
rules file recognises it (instructions starting "Filler line:"), and keeps
the supervisor's own tool calls in the run context, so the demo and the
tests can show them next to the junior agent's one call.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..agents import SupervisorToolCall, ToolContext

FILLER = "One moment, let me check that for you."
FILLER_INSTRUCTIONS = (
    "Filler line: repeat the user's words exactly, in a calm voice, and say nothing else."
)
"""The filler response's instructions; the offline rules recognise them by 'Filler line:'."""

TRACE_TEXT_LIMIT = 2000
"""Characters kept of each call's arguments and output: the trace is for showing, not replay."""


@dataclass
class SupervisorTrace:
    """The supervisor's own tool calls, for whoever shows the call (bounded, oldest dropped).

    Pass one as the run context (or as its ``supervisor_trace`` attribute) to see them;
    they never reach the Realtime session, which sees only the final answer.
    """

    calls: deque[tuple[str, str, str]] = field(default_factory=lambda: deque(maxlen=256))


def trace_of(context: object) -> SupervisorTrace | None:
    if isinstance(context, SupervisorTrace):
        return context
    found = getattr(context, "supervisor_trace", None)
    return found if isinstance(found, SupervisorTrace) else None


def record_call(ctx: ToolContext[Any], call: SupervisorToolCall) -> None:
    """``delegate(on_tool_call=…)``: keep ``call`` in the run context's trace, if it has one."""
    trace = trace_of(ctx.context)
    if trace is not None:
        trace.calls.append(
            (call.name, call.arguments[:TRACE_TEXT_LIMIT], call.output[:TRACE_TEXT_LIMIT])
        )
