"""Run the model's function calls in the client: once per call, with deadlines.

Register a function with its JSON schema; when the server finishes a call's
arguments (``response.function_call_arguments.done``) the runner calls it,
sends a ``function_call_output`` and, once every call of that response has
its output and the response is done, asks for the next response (through the
response gate, so it never collides with an active one).

What users of other stacks complain about, and what this does instead:
a tool that hangs gets a deadline (the session default, or the tool's own)
and the model is told, in the output, that it timed out; an unknown tool name
or bad arguments get an output saying so instead of a model waiting forever;
each ``call_id`` runs at most once, also across a resume or rebuild (the
runner lives on the session, and an output already in the conversation counts
as done); a barge-in or a cancelled response cancels the tools it started.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..protocol.bounded import RecentDict
from ..protocol.errors import ToolError
from ..protocol.json_depth import parse_untrusted
from .events import type_of

if TYPE_CHECKING:
    from ..protocol.conversation import Conversation
    from .tasks import Spawn

log = logging.getLogger("rtagents.client.tools")
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
CALLS_KEPT = 1024
"""Finished calls remembered; an older call_id is recognised by its output in the conversation."""


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    fn: Callable[..., Any]
    description: str
    parameters: Mapping[str, Any]
    timeout: float | None


@dataclass(slots=True)
class _ToolRun:
    call_id: str
    name: str
    response_id: str | None
    task: asyncio.Task[None] | None = None
    interrupted: str | None = None
    finished: bool = False
    outputs: list[str] = field(default_factory=list)
    output: str | None = None  # what was sent, kept to send again into a rebuilt session
    output_event_id: str | None = None  # the send of ``output``, to tell whether it is queued


class ToolSession(Protocol):
    """What the tool runner uses of its session (a :class:`~.session.Session`)."""

    @property
    def conversation(self) -> Conversation: ...

    async def create_item(
        self, item: Mapping[str, Any], *, previous_item_id: str | None = None
    ) -> str: ...

    async def create_response(self, **params: Any) -> str: ...

    def waits_for_connection(self, event_id: str) -> bool:
        """The event is queued for the next connection (so it reaches the next session)."""
        ...


class ToolRunner:
    """The tools of one session (``session.tools``)."""

    def __init__(
        self, session: ToolSession, *, spawn: Spawn, default_timeout: float = 30.0
    ) -> None:
        self.session = session
        self._spawn = spawn  # the session's tasks: a tool run ends with the session
        self.default_timeout = default_timeout
        self.respond = True
        """Ask for a response after a response's tool outputs were sent."""
        self.runs: Counter[str] = Counter()
        """How many times each recent ``call_id`` was executed (never more than once)."""
        self._tools: dict[str, Tool] = {}
        self._calls: dict[str, _ToolRun] = {}
        # Responses that are done and whose calls may still need a response.create.
        self._done_responses: RecentDict[str, None] = RecentDict(CALLS_KEPT)

    def register(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str = "",
        parameters: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Register ``fn`` (also as a decorator); ``timeout`` overrides the session default."""

        def add(function: Callable[..., Any]) -> Callable[..., Any]:
            tool_name = name or function.__name__
            doc = description or inspect.getdoc(function) or ""
            schema = dict(parameters) if parameters is not None else dict(_EMPTY_SCHEMA)
            self._tools[tool_name] = Tool(tool_name, function, doc, schema, timeout)
            return function

        return add if fn is None else add(fn)

    def definitions(self) -> list[dict[str, Any]]:
        """The ``tools`` list for ``session.update``."""
        return [
            {
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": dict(tool.parameters),
            }
            for tool in self._tools.values()
        ]

    @property
    def running(self) -> int:
        return sum(1 for call in self._calls.values() if not call.finished)

    # -- events ------------------------------------------------------------------------

    def observe(self, event: object) -> None:
        if not self._tools:
            return  # the app handles function calls itself
        etype = type_of(event)
        if etype == "response.function_call_arguments.done":
            self._start(event)
        elif etype == "response.done":
            response = getattr(event, "response", None)
            response_id = getattr(response, "id", None)
            if getattr(response, "status", None) == "cancelled":
                self.cancel_response(response_id, "the response was cancelled")
            if isinstance(response_id, str) and any(
                c.response_id == response_id for c in self._calls.values()
            ):
                self._done_responses[response_id] = None
                self._maybe_respond(response_id)
        elif etype == "input_audio_buffer.speech_started":
            self.cancel_all("the user started speaking (barge-in)", send=True)
        elif etype == "session.created":
            self._resend_lost_outputs()
            self._answer_interrupted_calls()

    def _resend_lost_outputs(self) -> None:
        """A new server session (a rebuild after the old one died): outputs sent to the
        old one but never confirmed are not in the mirror the rebuild replays, so the
        calls would stay unanswered. Send them again; the tools do not run again."""
        for call in self._calls.values():
            if call.output is None or self._answered(call.call_id):
                continue
            if not self._called(call.call_id):
                continue  # the call itself died with the old session
            if call.output_event_id and self.session.waits_for_connection(call.output_event_id):
                continue  # never sent: it goes to the new session after the replay
            log.info("sending the output of tool call %s again (rebuilt session)", call.call_id)
            self._spawn(self._send_again(call, call.output), "rtagents-tool-output")

    def _answer_interrupted_calls(self) -> None:
        """A new server session: calls whose response the old one never finished (their
        arguments may be cut short) never ran and never will. The rebuild replays them,
        so each gets an output saying so, and the model is not left waiting on them."""
        conversation = self.session.conversation
        for response in conversation.responses.values():
            if response.status != "in_progress":
                continue
            for item_id in response.output_item_ids:
                item = conversation.get(item_id)
                call_id = getattr(item, "call_id", None)
                if getattr(item, "type", None) != "function_call" or not isinstance(call_id, str):
                    continue
                if call_id in self._calls or self._answered(call_id):
                    continue
                call = _ToolRun(
                    call_id=call_id, name=getattr(item, "name", None) or "", response_id=None
                )
                call.finished = True
                call.output = _error(
                    "interrupted: the server session ended before the call was complete; "
                    "the tool did not run"
                )
                self._calls[call_id] = call
                log.info("tool call %s was cut short by a lost session; answering so", call_id)
                self._spawn(self._send_again(call, call.output), "rtagents-tool-output")

    async def _send_again(self, call: _ToolRun, output: str) -> None:
        item = {"type": "function_call_output", "call_id": call.call_id, "output": output}
        try:
            call.output_event_id = await self.session.create_item(item)
        except Exception as exc:
            log.warning("could not send the output of tool call %s again: %s", call.call_id, exc)

    def _start(self, event: object) -> None:
        call_id, name = _field(event, "call_id"), _field(event, "name") or ""
        if call_id is None:
            log.warning("a function call without a call_id cannot be answered; ignored")
            return
        if call_id in self._calls or self._answered(call_id):
            log.info("tool call %s was already handled; not running it again", call_id)
            return
        call = _ToolRun(call_id=call_id, name=name, response_id=_field(event, "response_id"))
        self._calls[call_id] = call
        self._forget_finished_calls()
        arguments = _field(event, "arguments") or ""
        call.task = self._spawn(self._run(call, arguments), f"rtagents-tool-{name}")

    def _forget_finished_calls(self) -> None:
        """Keep at most :data:`CALLS_KEPT` calls, dropping the oldest finished ones.

        A forgotten call still runs at most once: its output is in the
        conversation, which :meth:`_answered` checks.
        """
        excess = len(self._calls) - CALLS_KEPT
        if excess <= 0:
            return
        old = [call_id for call_id, call in self._calls.items() if call.finished]
        for call_id in old[:excess]:
            del self._calls[call_id]
            self.runs.pop(call_id, None)

    def _called(self, call_id: str) -> bool:
        return any(
            getattr(item, "type", None) == "function_call"
            and getattr(item, "call_id", None) == call_id
            for item in self.session.conversation.items
        )

    def _answered(self, call_id: str) -> bool:
        for item in self.session.conversation.items:
            if getattr(item, "type", None) == "function_call_output":
                if getattr(item, "call_id", None) == call_id:
                    return True
        return False

    # -- running -------------------------------------------------------------------------

    async def _run(self, call: _ToolRun, arguments: str) -> None:
        try:
            output = await self._output(call, arguments)
        except asyncio.CancelledError:
            if call.interrupted is None:
                raise  # the session is closing: nothing to send
            output = _error(f"cancelled: {call.interrupted}")
        call.finished = True
        call.output = output
        try:
            call.output_event_id = await self.session.create_item(
                {"type": "function_call_output", "call_id": call.call_id, "output": output}
            )
        except Exception as exc:
            log.warning("could not send the output of tool call %s: %s", call.call_id, exc)
            return
        if call.response_id is not None and call.interrupted is None:
            self._maybe_respond(call.response_id)

    async def _output(self, call: _ToolRun, arguments: str) -> str:
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return _report(call, "unknown_tool", f"there is no tool {call.name!r} (known: {known})")
        try:
            args = parse_untrusted(arguments or "{}")
        except ValueError as exc:
            return _report(call, "invalid_arguments", f"arguments are not valid JSON: {exc}")
        if not isinstance(args, dict):
            return _report(call, "invalid_arguments", "arguments must be a JSON object")
        limit = tool.timeout if tool.timeout is not None else self.default_timeout
        self.runs[call.call_id] += 1
        try:
            result = await asyncio.wait_for(_invoke(tool.fn, args), limit)
        except TimeoutError:
            return _report(call, "tool_timeout", f"{call.name!r} timed out after {limit:g} s")
        except Exception as exc:
            return _report(call, "tool_failed", f"{call.name!r} raised {type(exc).__name__}: {exc}")
        return result if isinstance(result, str) else json.dumps(result, default=str)

    def _maybe_respond(self, response_id: str) -> None:
        calls = [c for c in self._calls.values() if c.response_id == response_id]
        if not calls or not self.respond or response_id not in self._done_responses:
            return
        if all(c.finished for c in calls) and any(c.interrupted is None for c in calls):
            for call in calls:
                call.response_id = None  # respond once per response
            self._done_responses.pop(response_id, None)
            self._spawn(self._respond(), "rtagents-tool-response")

    async def _respond(self) -> None:
        try:
            await self.session.create_response()
        except Exception as exc:
            log.warning("could not ask for a response after tool outputs: %s", exc)

    # -- cancelling -------------------------------------------------------------------

    def cancel_response(self, response_id: object, why: str) -> None:
        for call in self._calls.values():
            if call.response_id == response_id and not call.finished:
                self._cancel(call, why)

    def cancel_all(self, why: str, *, send: bool = False) -> None:
        for call in self._calls.values():
            if not call.finished:
                self._cancel(call, why if send else None)

    def _cancel(self, call: _ToolRun, why: str | None) -> None:
        call.interrupted = why
        if call.task is not None and not call.task.done():
            call.task.cancel()


def _field(event: object, name: str) -> str | None:
    """A string field of the event; of an invalid event, read from its raw data.

    A call event with a bad field must still get an output (saying what is
    wrong), or the model would wait for it forever.
    """
    value = getattr(event, name, None)
    data = getattr(event, "data", None)
    if value is None and isinstance(data, Mapping):
        value = data.get(name)
    return value if isinstance(value, str) else None


async def _invoke(fn: Callable[..., Any], args: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(**args)
    result = await asyncio.to_thread(fn, **args)
    return await result if inspect.isawaitable(result) else result


def _error(message: str) -> str:
    return json.dumps({"error": message})


def _report(call: _ToolRun, code: str, message: str) -> str:
    error = ToolError(message, origin=_origin(code), code=code)
    log.warning("tool call %s failed: %s", call.call_id, error)
    return _error(message)


def _origin(code: str) -> Any:
    from ..protocol.errors import Origin

    return Origin.LOCAL if code in ("tool_timeout", "tool_failed") else Origin.REMOTE
