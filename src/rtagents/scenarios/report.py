"""The printed transcript of a played call: who spoke, agent changes, tools, verdicts, timing."""

from __future__ import annotations

from collections.abc import Sequence

from .player import TurnLog

_MARKS = {
    "user": "heard",
    "agent": "agent",
    "tool": "tool",
    "result": "result",
    "approval": "approval",
    "supervisor": "supervisor",
    "guardrail": "guardrail",
    "assistant": "assistant",
    "error": "error",
}


def format_call(title: str, start_agent: str, turns: Sequence[TurnLog]) -> str:
    """A readable transcript; latencies are from the end of the caller's line."""
    lines = [f"call: {title}", f"  [agent] {start_agent}"]
    for number, turn in enumerate(turns, 1):
        lines.append(f"turn {number}")
        lines.append(f"  caller:      {turn.line}")
        for step in turn.steps:
            if step.kind == "user" and step.text.strip() == turn.line.strip():
                continue  # the transcript of a spoken line that was heard right
            label = _MARKS.get(step.kind, step.kind)
            lines.append(f"  {label + ':':<12} {_short(step.text)}")
        lines.append(
            f"  latency:     first reply {_ms(turn.first_reply_ms)}, "
            f"turn settled {_ms(turn.settled_ms)}"
        )
    return "\n".join(lines)


def _short(text: str, limit: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"
