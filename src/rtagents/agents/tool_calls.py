"""Running the model's function calls for an agent session: tools, handoffs, approvals.

The client's :class:`~rtagents.client.ToolRunner` runs plain functions; an
agent's calls also need the ``call_id`` (approvals are keyed by it), the
active agent (which tools exist), and handoffs that reconfigure the session
before the output goes back. So this module keeps the same rules on its own:
each ``call_id`` runs at most once (also across resume, rebuild and rollover:
this state lives on the agent session, and an output already in the
conversation counts as done), every call gets an output (unknown tool, bad
arguments, timeout, failure and rejection included), and one response is
asked for per model response whose calls all finished.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..protocol.bounded import RecentDict
from ..protocol.errors import Origin, RealtimeError, ToolError
from ..protocol.json_depth import parse_untrusted
from .agent import Agent, FunctionTool, Handoff, ToolContext
from .agent_events import Error, ToolApprovalRequired, ToolEnd, ToolStart
from .arguments import resolve_flag
from .session_owner import SessionOwner

log = logging.getLogger("rtagents.agents.tool_calls")
REMEMBERED_CALLS = 4096


@dataclass(slots=True)
class _AgentCall:
    call_id: str
    name: str
    arguments: str
    response_id: str | None
    agent: Agent[Any]
    task: asyncio.Task[None] | None = None
    awaiting_approval: bool = False
    interrupted: str | None = None
    finished: bool = False


class CallDispatcher:
    """The function calls of one agent session."""

    def __init__(self, owner: SessionOwner) -> None:
        self.owner = owner
        self.runs: RecentDict[str, int] = RecentDict(REMEMBERED_CALLS)
        """How many times each recent call_id's tool actually ran (never more than once)."""
        self.always_approved: set[str] = set()
        self._calls: OrderedDict[str, _AgentCall] = OrderedDict()
        self._approvals: dict[str, asyncio.Future[tuple[bool, str | None]]] = {}
        self._done_responses: RecentDict[str, None] = RecentDict(REMEMBERED_CALLS)
        """Responses seen done whose calls have not all answered yet; bounded, because a
        response whose calls were all interrupted is never asked to respond and stays here."""

    @property
    def pending_approvals(self) -> list[str]:
        return [cid for cid, f in self._approvals.items() if not f.done()]

    # -- starting -------------------------------------------------------------------

    def start(
        self, call_id: str | None, name: str, arguments: str, response_id: str | None
    ) -> None:
        if call_id is None:
            log.warning("a function call without a call_id cannot be answered; ignored")
            return
        if call_id in self._calls or self._answered(call_id):
            log.info("call %s was already handled; not running it again", call_id)
            return
        agent = self.owner.agent_of_response(response_id)
        call = _AgentCall(call_id, name, arguments, response_id, agent)
        self._calls[call_id] = call
        if len(self._calls) > REMEMBERED_CALLS:
            self._forget_oldest_finished()
        call.task = self.owner.spawn(self._run(call), f"rtagents-agent-call-{name}")

    def _forget_oldest_finished(self) -> None:
        """Drop the oldest finished call. Unfinished ones (an approval nobody answers) are
        skipped, not waited for: stopping at one would keep every later call forever."""
        oldest = next((cid for cid, call in self._calls.items() if call.finished), None)
        if oldest is not None:
            del self._calls[oldest]

    def _answered(self, call_id: str) -> bool:
        return any(
            getattr(item, "type", None) == "function_call_output"
            and getattr(item, "call_id", None) == call_id
            for item in self.owner.client.conversation.items
        )

    # -- running --------------------------------------------------------------------

    async def _run(self, call: _AgentCall) -> None:
        tool = self._find(call)
        error: RealtimeError | None = None
        try:
            output = await self._execute(call, tool)
        except asyncio.CancelledError:
            if call.interrupted is None:
                raise  # the session is closing: nothing to send
            output = _error_text(f"cancelled: {call.interrupted}")
        except RealtimeError as exc:
            error, output = exc, _error_text(exc.message)
        call.finished = True
        if error is not None:
            log.warning("call %s (%s) failed: %s", call.call_id, call.name, error)
            self.owner.emit(Error(error=error))
        try:
            await self.owner.client.create_item(
                {"type": "function_call_output", "call_id": call.call_id, "output": output}
            )
        except Exception as exc:
            log.warning("could not send the output of call %s: %s", call.call_id, exc)
            return
        if tool is not None:
            self.owner.emit(
                ToolEnd(
                    agent=call.agent,
                    tool=tool,
                    call_id=call.call_id,
                    arguments=call.arguments,
                    output=output,
                    error=error,
                )
            )
        if call.response_id is not None and call.interrupted is None:
            self.response_done(call.response_id, observed=False)

    def _find(self, call: _AgentCall) -> FunctionTool | Handoff | None:
        for tool in call.agent.tools:
            if tool.name == call.name:
                return tool
        for handoff in call.agent.handoff_list():
            if handoff.tool_name == call.name:
                return handoff
        return None

    async def _execute(self, call: _AgentCall, tool: FunctionTool | Handoff | None) -> str:
        if tool is None:
            known = [t.name for t in call.agent.tools] + [
                h.tool_name for h in call.agent.handoff_list()
            ]
            raise ToolError(
                f"agent {call.agent.name!r} has no tool {call.name!r} "
                f"(known: {', '.join(known) or 'none'})",
                origin=Origin.REMOTE,
                code="unknown_tool",
                param=call.name,
            )
        ctx = ToolContext(
            context=self.owner.context,
            tool_name=call.name,
            call_id=call.call_id,
            arguments=call.arguments,
            session=self.owner,
        )
        self.owner.emit(
            ToolStart(agent=call.agent, tool=tool, call_id=call.call_id, arguments=call.arguments)
        )
        if isinstance(tool, Handoff):
            await tool.invoke(ctx, call.arguments)
            self._count(call)
            await self.owner.switch(tool.agent, call_id=call.call_id)
            return json.dumps({"assistant": tool.agent.name})
        if not await resolve_flag(tool.is_enabled, ctx, call.agent):
            raise ToolError(
                f"{call.name!r} is disabled for agent {call.agent.name!r}",
                origin=Origin.REMOTE,
                code="unknown_tool",
                param=call.name,
            )
        await self._approve(call, tool, ctx)
        self._count(call)
        limit = tool.timeout_seconds or self.owner.tool_timeout
        try:
            result = await asyncio.wait_for(tool.on_invoke_tool(ctx, call.arguments), limit)
        except TimeoutError:
            raise ToolError(
                f"{call.name!r} timed out after {limit:g} s",
                origin=Origin.LOCAL,
                code="tool_timeout",
                param=call.name,
            ) from None
        except (RealtimeError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise ToolError(
                f"{call.name!r} raised {type(exc).__name__}: {exc}",
                origin=Origin.LOCAL,
                code="tool_failed",
                param=call.name,
            ) from exc
        return _as_output(result)

    def _count(self, call: _AgentCall) -> None:
        self.runs[call.call_id] = self.runs.get(call.call_id, 0) + 1

    async def _approve(self, call: _AgentCall, tool: FunctionTool, ctx: ToolContext[Any]) -> None:
        if tool.name in self.always_approved:
            return
        try:
            parsed = parse_untrusted(call.arguments or "{}")
        except ValueError:
            parsed = {}
        if not await resolve_flag(tool.needs_approval, ctx, parsed, call.call_id):
            return
        future = self._approvals.get(call.call_id)
        if future is None:
            future = self._approvals[call.call_id] = asyncio.get_running_loop().create_future()
        call.awaiting_approval = True
        self.owner.emit(
            ToolApprovalRequired(
                agent=call.agent, tool=tool, call_id=call.call_id, arguments=call.arguments
            )
        )
        try:
            approved, reason = await future
        finally:
            call.awaiting_approval = False
            self._approvals.pop(call.call_id, None)
        if not approved:
            raise ToolError(
                f"the user rejected this call of {tool.name!r}" + (f": {reason}" if reason else ""),
                origin=Origin.LOCAL,
                code="tool_rejected",
                param=tool.name,
            )

    def decide(self, call_id: str, approved: bool, reason: str | None, always: bool) -> bool:
        """Answer a pending approval; False if ``call_id`` awaits none (already decided)."""
        future = self._approvals.get(call_id)
        if future is None or future.done():
            return False
        call = self._calls.get(call_id)
        if always and approved and call is not None:
            self.always_approved.add(call.name)
        future.set_result((approved, reason))
        return True

    # -- responding and cancelling ----------------------------------------------------

    def response_done(self, response_id: str, *, observed: bool = True) -> None:
        """Ask for the next response once every call of ``response_id`` has its output."""
        calls = [c for c in self._calls.values() if c.response_id == response_id]
        if observed and calls:
            self._done_responses[response_id] = None
        if not calls or response_id not in self._done_responses:
            return
        if all(c.finished for c in calls) and any(c.interrupted is None for c in calls):
            for call in calls:
                call.response_id = None  # respond once per response
            self._done_responses.pop(response_id, None)
            self.owner.spawn(self.owner.respond_after_tools(), "rtagents-agent-respond")

    def barge_in(self) -> None:
        """The user spoke: running calls that allow it stop (approvals keep waiting)."""
        for call in self._calls.values():
            if call.finished or call.awaiting_approval or call.task is None:
                continue  # most remembered calls: no tool lookup for them
            tool = self._find(call)
            if isinstance(tool, FunctionTool) and not tool.cancel_on_barge_in:
                continue
            if isinstance(tool, Handoff):
                continue
            call.interrupted = "the user started speaking (barge-in)"
            call.task.cancel()

    def cancel_all(self) -> None:
        for call in self._calls.values():
            if call.task is not None and not call.task.done():
                call.task.cancel()
        for future in self._approvals.values():
            future.cancel()


def _error_text(message: str) -> str:
    return json.dumps({"error": message})


def _as_output(result: Any) -> str:
    if isinstance(result, str):
        return result
    dump = getattr(result, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    return json.dumps(result, default=str)
