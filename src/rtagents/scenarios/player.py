"""Plays a scripted caller into an agent session and logs what the agents did, turn by turn.

One line at a time: say it (text, or speech through ``speak``), then wait
until the turn has settled (every response ended, every tool answered, every
approval decided, every guardrail check of the turn's replies finished and no
response still owed after a tool output or a trip), recording agent changes,
tool calls with their results, approvals, guardrail verdicts, what the
assistant said and how long it took. Waiting follows the session's events;
the only clock is the overall ``turn_timeout_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..agents import AgentSession
from .supervisor import trace_of

Speak = Callable[[AgentSession[Any], str], Awaitable[float | None]]
"""Say a line; may return the ``perf_counter`` at which the caller stopped speaking,
from which the turn's latencies count (else from when the line was sent)."""
Approve = Callable[[str, str], bool]
"""``approve(tool_name, arguments)``: the caller's decision on a tool that needs one."""


@dataclass
class Step:
    """One thing that happened in a turn, in order (``kind``: agent, tool, result,
    approval, guardrail, assistant, user, error)."""

    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnLog:
    line: str
    steps: list[Step] = field(default_factory=list)
    first_reply_ms: float | None = None
    settled_ms: float | None = None
    first_reply_at: float | None = None  # perf_counter of the first reply delta

    def of(self, kind: str) -> list[Step]:
        return [s for s in self.steps if s.kind == kind]


async def send_text(session: AgentSession[Any], line: str) -> float | None:
    await session.send_text(line)
    return None


def approve_all(tool: str, arguments: str) -> bool:
    return True


class ScenarioPlayer:
    """Reads ``session``'s events for the whole call; :meth:`say` plays one line."""

    def __init__(
        self,
        session: AgentSession[Any],
        *,
        speak: Speak = send_text,
        approve: Approve = approve_all,
        turn_timeout_s: float = 60.0,
    ) -> None:
        self.session = session
        self.speak = speak
        self.approve = approve
        self.turn_timeout_s = turn_timeout_s
        self.turns: list[TurnLog] = []
        self.errors: list[str] = []
        self._open: set[str] = set()
        self._ended: list[str] = []
        self._tools: set[str] = set()
        self._owed = False
        self._trips = 0
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name="rtagents-scenario-player")

    async def say(self, line: str) -> TurnLog:
        turn = TurnLog(line)
        self.turns.append(turn)
        self._ended.clear()
        self._owed = True
        began = time.perf_counter()
        spoke_until = await self.speak(self.session, line)
        if spoke_until is not None:
            began = spoke_until
        deadline = began + self.turn_timeout_s
        while not self._settled():
            if self._reader.done():
                raise RuntimeError("the agent session ended during the turn")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the turn {line!r} did not settle in {self.turn_timeout_s} s")
            self._changed.clear()
            # Guardrail checks end without an event of their own: look again shortly.
            try:
                await asyncio.wait_for(self._changed.wait(), 0.05)
            except TimeoutError:
                pass
        turn.settled_ms = (time.perf_counter() - began) * 1000
        if turn.first_reply_at is not None:
            turn.first_reply_ms = (turn.first_reply_at - began) * 1000
        self._supervisor_steps(turn)
        return turn

    def _supervisor_steps(self, turn: TurnLog) -> None:
        """The supervisor's tool calls this turn (they happen inside a delegate tool)."""
        trace = trace_of(self.session.context)
        while trace is not None and trace.calls:
            name, arguments, output = trace.calls.popleft()
            turn.steps.append(
                Step("supervisor", f"{name}({arguments}) -> {output}", {"name": name})
            )

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)

    def _settled(self) -> bool:
        guardrails = self.session.guardrails
        return (
            # A trip is counted before its event is queued, and a response's check state
            # is forgotten only after that: equal counts mean no trip event is in flight.
            guardrails.trips == self._trips
            and not self._owed
            and bool(self._ended)
            and not self._open
            and not self._tools
            and all(guardrails.watch.get(response_id) is None for response_id in self._ended)
        )

    async def _read(self) -> None:
        async for event in self.session:
            try:
                self._note(event)
            finally:
                self._changed.set()

    def _note(self, event: Any) -> None:
        turn = self.turns[-1] if self.turns else None
        kind = event.type
        if kind == "agent_start" and event.response_id:
            self._open.add(event.response_id)
            self._owed = False
        elif kind == "agent_end" and event.response_id:
            self._open.discard(event.response_id)
            self._ended.append(event.response_id)
        elif kind == "handoff":
            self._log(turn, "agent", f"{event.from_agent.name} -> {event.to_agent.name}")
        elif kind == "tool_start":
            self._tools.add(event.call_id)
            name = _tool_name(event.tool)
            self._log(turn, "tool", f"{name}({event.arguments})", name=name)
        elif kind == "tool_end":
            self._tools.discard(event.call_id)
            if turn is not None:
                self._supervisor_steps(turn)  # a delegate's own calls come before its output
            self._owed = True  # the session asks for a response once the outputs are in
            self._log(turn, "result", event.output, name=_tool_name(event.tool))
        elif kind == "tool_approval_required":
            approved = self.approve(event.tool.name, event.arguments)
            verdict = "approved" if approved else "rejected"
            self._log(turn, "approval", f"{event.tool.name}: {verdict}", approved=approved)
            decide = self.session.approve if approved else self.session.reject
            self.session.spawn(decide(event.call_id), "rtagents-scenario-approval")
        elif kind == "guardrail_tripped":
            self._owed = True  # the session adds a correction and asks again
            self._trips += 1
            for result in event.results:
                info = result.output.output_info
                self._log(turn, "guardrail", f"{result.guardrail.get_name()}: {info}", info=info)
        elif kind == "transcript":
            self._transcript(turn, event)
        elif kind == "error":
            message = f"{event.category}: {event.error}"
            self.errors.append(message)
            self._log(turn, "error", message)

    def _transcript(self, turn: TurnLog | None, event: Any) -> None:
        if event.role == "user":
            self._log(turn, "user", event.text)
            return
        if not event.final:
            if turn is not None and turn.first_reply_at is None:
                turn.first_reply_at = time.perf_counter()
            return
        if event.response_id is not None and self.session.guardrails.silenced(event.response_id):
            return  # a stopped reply: the listener did not hear the rest
        self._log(turn, "assistant", event.text.strip(), response_id=event.response_id)

    def _log(self, turn: TurnLog | None, kind: str, text: str, **data: Any) -> None:
        if turn is not None:
            turn.steps.append(Step(kind, text, data))


def _tool_name(tool: Any) -> str:
    """A function tool's ``name`` or a handoff's ``tool_name``."""
    return str(getattr(tool, "tool_name", None) or getattr(tool, "name", "?"))
